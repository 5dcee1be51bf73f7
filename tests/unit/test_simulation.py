"""The traffic simulator: determinism, the intended defects, and sane ticket lifecycles."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.events import Event, EventType, Status, Topic
from streams.domain.instant import parse_rfc3339
from streams.simulator.simulate import JsonlSink, pump, simulate
from streams.simulator.simulation import (
    DAY,
    HOUR,
    Emitted,
    Intent,
    SimulationConfig,
    generate,
    take,
    week_hour,
)

START = parse_rfc3339("2026-11-02T08:00:00Z")  # a Monday
# About a week of a mid-sized help desk, with more defects than usual.
NOISY = SimulationConfig(
    seed=11, events_per_second=0.05, invalid_share=0.05, duplicate_share=0.04, late_share=0.06
)
TICKET_OR_CONTACT = frozenset(EventType) - {EventType.SURVEY_CSAT, EventType.SURVEY_NPS}


def run(config: SimulationConfig, count: int, start: int = START) -> list[Emitted]:
    return list(take(generate(config, start), count=count))


@pytest.fixture(scope="module")
def noisy() -> list[tuple[Emitted, Event | InvalidEvent]]:
    return [(emitted, decode_event(emitted.line())) for emitted in run(NOISY, 30_000)]


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = [(e.line(), e.emit_at, e.intent, e.topic, e.key) for e in run(NOISY, 3_000)]
    again = [(e.line(), e.emit_at, e.intent, e.topic, e.key) for e in run(NOISY, 3_000)]
    other = [(e.line(), e.emit_at) for e in run(SimulationConfig(seed=12), 3_000)]
    assert first == again
    assert [pair[:2] for pair in first] != other
    assert not {e.key for e in run(NOISY, 500)} & {
        e.key for e in run(SimulationConfig(seed=12), 500)
    }


def test_only_intended_events_are_invalid(noisy: list[tuple[Emitted, Any]]) -> None:
    for emitted, result in noisy:
        if emitted.intent is Intent.INVALID:
            assert isinstance(result, InvalidEvent), emitted
            assert emitted.defect is not None
            assert result.error.startswith(emitted.defect + ": "), (emitted.defect, result.error)
        else:
            assert isinstance(result, Event), (emitted, result)
            assert emitted.key == result.ticket_id
            assert emitted.topic is result.topic
    defects = Counter(e.defect for e, _ in noisy if e.intent is Intent.INVALID)
    assert {"(json)", "(event)", "type", "occurred_at", "score", "event_id", "ticket_id"} <= set(
        defects
    )
    raw_text = [e for e, _ in noisy if isinstance(e.value, str)]
    assert raw_text and all(e.intent is Intent.INVALID for e in raw_text)


def test_shares_match_the_configuration(noisy: list[tuple[Emitted, Any]]) -> None:
    shares = Counter(e.intent for e, _ in noisy)
    total = len(noisy)
    assert shares[Intent.INVALID] / total == pytest.approx(NOISY.invalid_share, abs=0.008)
    assert shares[Intent.DUPLICATE] / total == pytest.approx(NOISY.duplicate_share, abs=0.008)
    late = shares[Intent.LATE] / (total - shares[Intent.INVALID] - shares[Intent.DUPLICATE])
    assert late == pytest.approx(NOISY.late_share, abs=0.01)


def test_emission_order(noisy: list[tuple[Emitted, Any]]) -> None:
    """Sent in time order; valid events when they occur, late and duplicate ones after."""
    sent = [emitted.emit_at for emitted, _ in noisy]
    assert sent == sorted(sent)
    for emitted, result in noisy:
        if emitted.intent is Intent.VALID:
            assert result.occurred_at == emitted.emit_at
        elif emitted.intent is Intent.LATE:
            assert result.occurred_at < emitted.emit_at
        elif emitted.intent is Intent.DUPLICATE:
            assert result.occurred_at <= emitted.emit_at
    overtaken = 0
    latest = 0
    for _, result in noisy:
        if isinstance(result, Event):
            overtaken += result.occurred_at < latest
            latest = max(latest, result.occurred_at)
    assert overtaken > 0  # late events really arrive after later ones


def test_ids_unique_except_intended_duplicates(noisy: list[tuple[Emitted, Any]]) -> None:
    originals = Counter(
        r.event_id for e, r in noisy if isinstance(r, Event) and e.intent is not Intent.DUPLICATE
    )
    assert max(originals.values()) == 1
    lines = {
        r.event_id: e.line()
        for e, r in noisy
        if isinstance(r, Event) and e.intent is not Intent.DUPLICATE
    }
    for emitted, result in noisy:
        if emitted.intent is Intent.DUPLICATE:
            assert isinstance(result, Event)
            assert result.event_id in originals or _sent_after_cut(emitted, noisy)
            if result.event_id in lines:
                assert emitted.line() == lines[result.event_id]  # the very same event again
        if emitted.intent is Intent.INVALID and isinstance(emitted.value, dict):
            assert emitted.value.get("event_id") not in originals


def _sent_after_cut(duplicate: Emitted, noisy: list[tuple[Emitted, Any]]) -> bool:
    """A late original may fall after the end of a run cut by count."""
    return noisy[-1][0].emit_at - duplicate.emit_at < 6 * HOUR


def test_ticket_lifecycles(noisy: list[tuple[Emitted, Any]]) -> None:
    timelines: dict[str, list[Event]] = defaultdict(list)
    for emitted, result in noisy:
        if isinstance(result, Event) and emitted.intent is not Intent.DUPLICATE:
            timelines[result.ticket_id].append(result)
    complete = without_created = 0
    for events in timelines.values():
        events.sort(key=lambda event: event.sort_key)
        kinds = [event.type for event in events]
        assert kinds.count(EventType.TICKET_CREATED) <= 1
        if EventType.TICKET_CREATED not in kinds:  # sent late, after the end of the run
            without_created += 1
            continue
        assert kinds[0] is EventType.TICKET_CREATED
        statuses = [event.status for event in events if event.status is not None]
        if Status.CLOSED in statuses:
            complete += 1
            assert statuses.count(Status.CLOSED) == 1
            closed_at = next(i for i, e in enumerate(events) if e.status is Status.CLOSED)
            assert all(event.type not in TICKET_OR_CONTACT for event in events[closed_at + 1 :])
        if Status.SOLVED in statuses:
            first_solved = next(e for e in events if e.status is Status.SOLVED)
            surveys = [e for e in events if e.type in (EventType.SURVEY_CSAT, EventType.SURVEY_NPS)]
            assert all(survey.occurred_at > first_solved.occurred_at for survey in surveys)
    assert complete > 100
    assert without_created < 0.01 * len(timelines)


def test_realistic_variety(noisy: list[tuple[Emitted, Any]]) -> None:
    events = [r for e, r in noisy if isinstance(r, Event) and e.intent is not Intent.DUPLICATE]
    kinds = Counter(event.type for event in events)
    assert set(kinds) == set(EventType)
    statuses = Counter(event.status for event in events)
    assert {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED} <= set(
        statuses
    )
    assert any(e.type is EventType.TICKET_ASSIGNED and e.team for e in events)  # team changes
    assert any(e.type is EventType.CONTACT_OUTBOUND and not e.public for e in events)  # notes
    assert any(e.duration_seconds for e in events)  # calls
    assert any(e.extra for e in events)
    assert len({e.channel for e in events if e.channel}) == 6
    assert len({e.priority for e in events if e.priority}) == 4
    assert {e.team for e in events if e.team} == {"billing", "tech", "onboarding", "returns"}
    offsets = [e.value.get("occurred_at") for e, _ in noisy if isinstance(e.value, dict)]
    assert any(str(text).endswith(("+01:00", "+02:00", "-05:00")) for text in offsets)
    scores = Counter(e.score for e in events if e.type is EventType.SURVEY_CSAT)
    assert scores.most_common(1)[0][0] == 5  # most customers are happy


def test_reopen_and_close_timing(noisy: list[tuple[Emitted, Any]]) -> None:
    timelines: dict[str, list[Event]] = defaultdict(list)
    for emitted, result in noisy:
        if isinstance(result, Event) and emitted.intent is not Intent.DUPLICATE:
            timelines[result.ticket_id].append(result)
    reopened = closed = 0
    for events in timelines.values():
        events.sort(key=lambda event: event.sort_key)
        statuses = [event.status for event in events if event.status is not None]
        reopened += any(
            before is Status.SOLVED and after is Status.OPEN
            for before, after in itertools.pairwise(statuses)
        )
        if Status.CLOSED in statuses and Status.SOLVED in statuses:
            solved = max(e.occurred_at for e in events if e.status is Status.SOLVED)
            close = next(e.occurred_at for e in events if e.status is Status.CLOSED)
            assert close - solved > DAY  # closed days after the (last) solve
            closed += 1
    assert reopened > 10 and closed > 100


def test_assignments_and_replies_go_to_agents_on_shift() -> None:
    config = SimulationConfig(seed=9, invalid_share=0, duplicate_share=0, late_share=0)
    shifts = config.shifts
    checked = 0
    for emitted in run(config, 20_000):
        event = decode_event(emitted.line())
        assert isinstance(event, Event)
        if event.type is EventType.TICKET_ASSIGNED or event.is_touch:
            assert event.agent_id is not None
            number = int(event.agent_id.rsplit("-", 1)[1])
            shift = shifts[number % len(shifts)]
            assert shift.covers(week_hour(event.occurred_at)), (event.agent_id, shift)
            checked += 1
    assert checked > 1000


def test_rate_is_events_per_simulated_second() -> None:
    rate = 0.02
    config = SimulationConfig(seed=4, events_per_second=rate, daily_cycle=False)
    steady_from, until = START + 7 * DAY, START + 21 * DAY  # after lifecycles fill up
    sent = [e.emit_at for e in take(generate(config, START), until=until)]
    steady = sum(1 for at in sent if at >= steady_from)
    assert steady / ((until - steady_from) / 1e6) == pytest.approx(rate, rel=0.1)


def test_daily_cycle_makes_office_hours_busier(noisy: list[tuple[Emitted, Any]]) -> None:
    created = Counter(
        week_hour(result.occurred_at) % 24
        for _, result in noisy
        if isinstance(result, Event) and result.type is EventType.TICKET_CREATED
    )
    assert sum(created[h] for h in range(9, 17)) > 4 * sum(created[h] for h in range(0, 8))


def test_take() -> None:
    events = run(SimulationConfig(seed=1), 100)
    assert len(events) == 100
    cut = events[50].emit_at
    assert [e.emit_at for e in take(iter(events), until=cut)] == [
        e.emit_at for e in events if e.emit_at < cut
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"events_per_second": 0},
        {"invalid_share": 1.0},
        {"invalid_share": 0.6, "duplicate_share": 0.5},
        {"late_share": -0.1},
    ],
)
def test_config_rejects_nonsense(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**changes)


# --- the command and the sink seam --------------------------------------------------------


def test_simulate_command_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    args = ["--out", str(out), "--events", "3000", "--seed", "3", "--invalid-share", "0.02"]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3000
    decoded = [decode_event(line) for line in lines]
    invalid = sum(isinstance(d, InvalidEvent) for d in decoded)
    assert 0 < invalid < 150
    assert "wrote 3000 events" in result.output
    again = tmp_path / "again.jsonl"
    CliRunner().invoke(simulate, [*args[:1], str(again), *args[2:]])
    assert again.read_bytes() == out.read_bytes()


def test_simulate_command_duration_and_stdout() -> None:
    start = "2026-11-07T10:00:00+01:00"
    args = ["--out", "-", "--duration", "2h", "--rate", "1", "--quiet", "--start", start]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert 500 < len(lines) < 20_000
    end = parse_rfc3339("2026-11-07T11:00:00Z")
    for line in lines:
        event = decode_event(line)
        if isinstance(event, Event):
            assert event.occurred_at < end


def _night_activity(*flags: str) -> Counter[str]:
    """What happens between 05:00 and 06:00 UTC on a Tuesday (before any office shift)."""
    start, night, dawn = "2026-11-03T03:00:00Z", "2026-11-03T05:00:00Z", "2026-11-03T06:00:00Z"
    args = ["--out", "-", "--duration", "3h", "--rate", "0.5", "--quiet", "--start", start]
    result = CliRunner().invoke(simulate, [*args, *flags])
    assert result.exit_code == 0, result.output
    seen: Counter[str] = Counter()
    for line in result.output.splitlines():
        event = decode_event(line)
        if isinstance(event, Event) and parse_rfc3339(night) <= event.occurred_at:
            assert event.occurred_at < parse_rfc3339(dawn)
            if event.type is EventType.TICKET_CREATED:
                seen["created"] += 1
            elif event.is_touch and event.type is EventType.CONTACT_OUTBOUND:
                seen["replies"] += 1
            elif event.type is EventType.TICKET_STATUS_CHANGED and event.status is Status.SOLVED:
                seen["solved"] += 1
    return seen


def test_round_the_clock_desk_replies_and_solves_at_night() -> None:
    """The office desk has nobody on shift at 05:00 UTC, so an hour of a night demo had no
    first reply, solve or stopped SLA clock; the round-the-clock desk works then too."""
    office = _night_activity()
    assert office["replies"] == office["solved"] == 0
    desk = _night_activity("--round-the-clock")
    assert desk["created"] > 3 * office["created"]  # a flat rate, not the night's low
    assert desk["replies"] > 20 and desk["solved"] > 10


def test_the_demo_simulates_the_round_the_clock_desk() -> None:
    """`make demo` runs at any hour; with the office desk its 1h windows are empty at night."""
    demo = (Path(__file__).parents[2] / "scripts" / "demo.sh").read_text(encoding="utf-8")
    commands = [part.split("&")[0] for part in demo.split('"$BIN/ticketpulse" simulate')[1:]]
    assert len(commands) == 2  # a day of history, then live traffic
    for command in commands:
        assert "--round-the-clock" in command, command


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--events", "10", "--duration", "1h"],
        ["--duration", "soon"],
        ["--events", "10", "--start", "yesterday"],
        ["--events", "10", "--invalid-share", "0.7", "--duplicate-share", "0.5"],
    ],
)
def test_simulate_command_rejects_bad_options(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate, ["--out", str(tmp_path / "x.jsonl"), *args])
    assert result.exit_code == 2, result.output


class ListSink:
    def __init__(self) -> None:
        self.sent: list[Emitted] = []
        self.closed = False

    async def send(self, emitted: Emitted) -> None:
        if emitted.intent is Intent.INVALID:
            raise RuntimeError("broker down")
        self.sent.append(emitted)

    async def close(self) -> None:
        self.closed = True


def test_pump_feeds_any_async_sink_and_always_closes_it() -> None:
    events = run(SimulationConfig(seed=1, invalid_share=0, duplicate_share=0.1), 500)
    sink = ListSink()
    counts = asyncio.run(pump(events, sink))
    assert sink.sent == events and sink.closed
    assert counts[Intent.DUPLICATE] == sum(e.intent is Intent.DUPLICATE for e in events)
    failing = ListSink()
    with pytest.raises(RuntimeError):
        asyncio.run(pump(run(SimulationConfig(seed=1, invalid_share=0.2), 100), failing))
    assert failing.closed


def test_jsonl_sink_writes_raw_text_as_is(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    broken = Emitted('{"event_id": "x", "ty', Topic.TICKETS, "T-1", START, Intent.INVALID, "(json)")
    whole = Emitted({"a": "é"}, Topic.TICKETS, "T-1", START)
    with path.open("w", encoding="utf-8") as stream:
        sink = JsonlSink(stream)

        async def write() -> None:
            await sink.send(broken)
            await sink.send(whole)
            await sink.close()

        asyncio.run(write())
    assert path.read_text(encoding="utf-8").splitlines() == ['{"event_id": "x", "ty', '{"a":"é"}']
    assert json.loads(whole.line()) == {"a": "é"}
