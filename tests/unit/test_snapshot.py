"""The snapshot: exact shape and key order of spec section 5, maps, backlog, sla_now, JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.catalog import DIMENSIONS, KPIS, Aggregation
from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot, dumps_snapshot
from streams.domain.windows import WINDOWS, Windows

AS_OF = parse_rfc3339("2026-11-02T10:00:00Z")
SECOND = 1_000_000

# Written by hand from the spec: overall always present with zeros and nulls, empty maps.
EMPTY_SNAPSHOT_JSON = """
{"as_of": "2026-11-02T10:00:00Z",
 "windows": {"1h": WINDOW, "24h": WINDOW, "7d": WINDOW},
 "backlog": {"total": 0, "by_status": {}, "by_priority": {}, "by_team": {}},
 "sla_now": {"at_risk": {"first_reply": 0, "next_reply": 0, "resolution": 0},
             "breached_running": {"first_reply": 0, "next_reply": 0, "resolution": 0}}}
"""
EMPTY_WINDOW_JSON = """
{"overall": {
   "first_reply_seconds": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "reply_seconds": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "resolution_seconds": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "full_resolution_seconds": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "touches_to_close": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "handle_seconds": {"count": 0, "mean": null, "p50": null, "p90": null, "p99": null},
   "tickets_created": 0, "tickets_solved": 0, "reopened": 0,
   "one_touch": 0, "zero_touch": 0, "fcr_rate": null,
   "csat": {"responses": 0, "satisfied": 0, "percent": null},
   "nps": {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "score": null},
   "sla": {"first_reply": {"met": 0, "breached": 0, "compliance": null},
           "next_reply": {"met": 0, "breached": 0, "compliance": null},
           "resolution": {"met": 0, "breached": 0, "compliance": null}}},
 "by_team": {}, "by_channel": {}, "by_priority": {}, "by_agent": {}}
"""


def fact(minutes_ago: float, kind: FactKind, value: int = 0, **kw: object) -> Fact:
    fields: dict[str, object] = {"team": "billing", "channel": "email", "priority": "high"}
    fields.update(kw)
    time = AS_OF - round(minutes_ago * MICROS_PER_MINUTE)
    return Fact(time, kind, value, **fields)  # type: ignore[arg-type]


def window_counters(*facts: Fact) -> dict[str, Any]:
    store = Windows()
    store.apply(FactDiff(added=facts))
    return {name: store.window(name, AS_OF) for name in WINDOWS}


def snapshot_of(*facts: Fact, backlog: Backlog | None = None) -> dict[str, object]:
    windows = window_counters(*facts)
    return build_snapshot(AS_OF, windows, backlog or Backlog(), SlaNow()).to_json()


def empty_snapshot() -> dict[str, object]:
    return json.loads(EMPTY_SNAPSHOT_JSON.replace("WINDOW", EMPTY_WINDOW_JSON))  # type: ignore[no-any-return]


def keys(obj: object) -> list[str]:
    assert isinstance(obj, dict)
    return list(obj)


def test_empty_snapshot_is_exactly_the_spec_shape() -> None:
    snapshot = snapshot_of()
    expected = empty_snapshot()
    assert snapshot == expected
    # equal dicts may differ in order: compare the text, which carries the key order
    assert dumps_snapshot(snapshot) == json.dumps(expected) + "\n"


def test_key_order_follows_the_spec() -> None:
    snapshot = snapshot_of(fact(5, FactKind.CREATED, agent="a1"))
    assert keys(snapshot) == ["as_of", "windows", "backlog", "sla_now"]
    windows = snapshot["windows"]
    assert isinstance(windows, dict)
    assert keys(windows) == ["1h", "24h", "7d"]
    assert keys(windows["1h"]) == ["overall", "by_team", "by_channel", "by_priority", "by_agent"]
    empty_k = empty_snapshot()["windows"]["1h"]["overall"]  # type: ignore[index]
    assert keys(windows["1h"]["by_agent"]["a1"]) == keys(empty_k)


def test_fact_without_agent_is_left_out_of_by_agent() -> None:
    snapshot = snapshot_of(fact(5, FactKind.CREATED, agent=None))
    window = snapshot["windows"]["1h"]  # type: ignore[index]
    assert window["by_agent"] == {}
    assert window["by_team"]["billing"]["tickets_created"] == 1
    assert window["by_channel"]["email"]["tickets_created"] == 1
    assert window["by_priority"]["high"]["tickets_created"] == 1
    assert window["overall"]["tickets_created"] == 1


def test_maps_hold_only_keys_with_facts_in_the_window_sorted() -> None:
    snapshot = snapshot_of(
        fact(30, FactKind.CREATED, team="zeta"),
        fact(30, FactKind.CREATED, team="alpha"),
        fact(120, FactKind.CREATED, team="mid"),  # in 24h and 7d, not in 1h
    )
    windows = snapshot["windows"]
    assert list(windows["1h"]["by_team"]) == ["alpha", "zeta"]  # type: ignore[index]
    assert list(windows["24h"]["by_team"]) == ["alpha", "mid", "zeta"]  # type: ignore[index]
    assert windows["1h"]["overall"]["tickets_created"] == 2  # type: ignore[index]
    assert windows["7d"]["overall"]["tickets_created"] == 3  # type: ignore[index]


def test_window_values_by_hand() -> None:
    snapshot = snapshot_of(
        fact(10, FactKind.FIRST_REPLY, 60 * SECOND, agent="a1"),
        fact(20, FactKind.FIRST_REPLY, 180 * SECOND, agent="a2"),
        fact(20, FactKind.TOUCHES_TO_CLOSE, 1, agent="a2"),
        fact(20, FactKind.SLA_MET, target=SlaTarget.FIRST_REPLY, agent="a2"),
        fact(25 * 60, FactKind.SLA_BREACHED, target=SlaTarget.FIRST_REPLY),
    )
    one_hour = snapshot["windows"]["1h"]  # type: ignore[index]
    assert one_hour["overall"]["first_reply_seconds"] == {
        "count": 2,
        "mean": 120.0,
        "p50": 60.0,
        "p90": 180.0,
        "p99": 180.0,
    }
    assert one_hour["by_agent"]["a1"]["first_reply_seconds"]["mean"] == 60.0
    assert one_hour["overall"]["fcr_rate"] == 1.0
    assert one_hour["overall"]["sla"]["first_reply"]["compliance"] == 1.0
    seven_days = snapshot["windows"]["7d"]["overall"]  # type: ignore[index]
    assert seven_days["sla"]["first_reply"] == {"met": 1, "breached": 1, "compliance": 0.5}


def test_backlog_counts_only_open_work() -> None:
    backlog = Backlog.from_tickets(
        [
            ("open", "high", "billing"),
            ("new", "low", "billing"),
            ("pending", "high", "apps"),
            ("solved", "urgent", "ghost"),
            ("closed", "urgent", "ghost"),
        ]
    )
    assert backlog.to_json() == {
        "total": 3,
        "by_status": {"new": 1, "open": 1, "pending": 1},
        "by_priority": {"high": 2, "low": 1},
        "by_team": {"apps": 1, "billing": 2},
    }
    assert list(backlog.by_team) == ["apps", "billing"]
    assert snapshot_of(backlog=backlog)["backlog"] == backlog.to_json()


@given(
    st.dictionaries(
        st.tuples(
            st.sampled_from(["new", "open", "pending", "on_hold", "solved", "closed"]),
            st.sampled_from(["low", "high", ""]),
            st.sampled_from(["billing", "apps", ""]),
        ),
        st.integers(-3, 5),
    )
)
def test_backlog_from_counts_equals_counting_each_ticket(
    counts: dict[tuple[str, str, str], int],
) -> None:
    """The worker's backlog hashes hold counts (zero or below after moves): summing them
    equals counting one triple per open ticket."""
    tickets = [key for key, count in counts.items() for _ in range(max(count, 0))]
    open_tickets = [t for t in tickets if t[0] in ("new", "open", "pending", "on_hold")]
    expected = {
        "total": len(open_tickets),
        "by_status": dict(sorted(Counter(t[0] for t in open_tickets).items())),
        "by_priority": dict(sorted(Counter(t[1] for t in open_tickets).items())),
        "by_team": dict(sorted(Counter(t[2] for t in open_tickets).items())),
    }
    assert Backlog.from_counts(counts.items()).to_json() == expected
    assert Backlog.from_tickets(tickets).to_json() == expected


def test_sla_now_always_lists_every_target() -> None:
    sla = SlaNow(at_risk={"resolution": 2}, breached_running={"first_reply": 1})
    assert sla.to_json() == {
        "at_risk": {"first_reply": 0, "next_reply": 0, "resolution": 2},
        "breached_running": {"first_reply": 1, "next_reply": 0, "resolution": 0},
    }
    with pytest.raises(ValueError):
        SlaNow(at_risk={"first_response": 1})


def test_all_three_windows_are_required() -> None:
    with pytest.raises(ValueError):
        build_snapshot(AS_OF, {"1h": {}, "24h": {}}, Backlog(), SlaNow())


def test_dumps_is_stable_json_with_a_trailing_newline() -> None:
    snapshot = snapshot_of(fact(5, FactKind.CSAT, 5, agent="a1"), fact(5, FactKind.NPS, 3))
    assert dumps_snapshot(Snapshot.from_json(snapshot)) == dumps_snapshot(snapshot)
    text = dumps_snapshot(snapshot)
    assert text.endswith("}\n") and text.count("\n") == 1
    assert json.loads(text) == snapshot
    assert dumps_snapshot(snapshot) == text
    indented = dumps_snapshot(snapshot, indent=2)
    assert indented.endswith("}\n") and '\n  "windows": {\n' in indented
    assert json.loads(indented) == snapshot


# --- the typed snapshot ---------------------------------------------------------------------

GOLDEN = Path(__file__).parent.parent / "golden"


def test_the_typed_golden_snapshot_prints_the_golden_bytes() -> None:
    """``from_json`` then ``to_json`` gives back exactly what was read, key order included:
    the golden file, printed as ``ticketpulse replay --indent 2`` prints it."""
    text = (GOLDEN / "expected_snapshot.json").read_text()
    typed = Snapshot.from_json(json.loads(text))
    assert dumps_snapshot(typed, indent=2) == text
    assert typed.as_of == parse_rfc3339("2026-11-03T12:00:00Z")  # an Instant, not text
    assert list(typed.windows) == list(WINDOWS)
    assert typed.windows["1h"].overall.tickets_created == 4
    assert list(typed.windows["7d"].by) == list(DIMENSIONS)
    assert typed.backlog.total == 12 and typed.sla_now.at_risk["first_reply"] == 2
    assert typed.accounts is None and "accounts" not in typed.to_json()


def test_each_k_reads_its_catalog_kpis_from_typed_fields() -> None:
    """Every K of the golden snapshot, typed: each count and ratio of the catalog by its key,
    each distribution ``D`` and each SLA target's ``S`` hold what the JSON says."""
    data = json.loads((GOLDEN / "expected_snapshot.json").read_text())
    typed = Snapshot.from_json(data)
    checked = 0
    for name, window in typed.windows.items():
        rows = [(window.overall, data["windows"][name]["overall"])]
        for kind, members in window.by.items():
            rows += [(k, data["windows"][name][f"by_{kind}"][key]) for key, k in members.items()]
        for k, want in rows:
            for row in KPIS:
                head, _, field = row.key.partition(".")
                if row.aggregation is Aggregation.DISTRIBUTION:
                    assert k.distribution(row.key).to_json() == want[row.key]
                elif row.aggregation is not Aggregation.SLA:
                    assert k.value(row.key) == (want[head][field] if field else want[head])
            for target in SlaTarget:
                outcome = k.sla_of(target.value)
                assert outcome.to_json() == want["sla"][target.value]
                assert outcome.field("compliance") == want["sla"][target.value]["compliance"]
            assert k.to_json() == want
            checked += 1
    assert checked > 50


def test_the_accounts_section_stays_last_and_whole() -> None:
    section = json.loads((GOLDEN / "accounts" / "expected_accounts.json").read_text())
    plain = json.loads((GOLDEN / "expected_snapshot.json").read_text())
    typed = Snapshot.from_json(plain).with_accounts(section)
    data = typed.to_json()
    assert list(data) == ["as_of", "windows", "backlog", "sla_now", "accounts"]
    assert data["accounts"] == section
    text = dumps_snapshot(typed)
    assert dumps_snapshot(Snapshot.from_json(json.loads(text))) == text


def test_a_built_snapshot_equals_its_json_read_back() -> None:
    built = build_snapshot(
        AS_OF,
        window_counters(fact(5, FactKind.CSAT, 5, agent="a1"), fact(5, FactKind.NPS, 3)),
        Backlog.from_tickets([("open", "high", "billing")]),
        SlaNow(at_risk={"first_reply": 1}),
    )
    assert Snapshot.from_json(json.loads(dumps_snapshot(built))) == built


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("missing sla_now", lambda d: d.pop("sla_now")),
        ("a window short", lambda d: d["windows"].pop("24h")),
        ("an unknown window", lambda d: d["windows"].update({"2h": {}})),
        ("as_of not a time", lambda d: d.update(as_of="yesterday")),
        ("an unknown SLA target", lambda d: d["sla_now"]["at_risk"].update(later=1)),
    ],
)
def test_json_that_is_not_a_snapshot_is_refused(why: str, change: Any) -> None:
    data = json.loads((GOLDEN / "expected_snapshot.json").read_text())
    change(data)
    with pytest.raises((KeyError, ValueError)):
        Snapshot.from_json(data)
