"""POST /events at the edge: whole bodies within the limit, parsed in a thread, a few at once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence

import pytest

from streams import emit
from streams.domain.account_decode import decode_any
from streams.domain.decode import MAX_DEPTH, TOO_DEEP
from streams.live import api
from streams.live.intake import Intake, read_body

NDJSON = "application/x-ndjson"


def line(n: int, **extra: object) -> bytes:
    event = {
        "event_id": f"e-{n}",
        "type": "ticket.created",
        "occurred_at": "2026-11-02T09:15:00Z",
        "ticket_id": f"T-{n}",
        "channel": "chat",
        "priority": "normal",
        "team": "billing",
        **extra,
    }
    return json.dumps(event).encode()


class Pieces:
    """A body arriving in pieces, as aiohttp's ``StreamReader.readany`` hands it out; each
    piece may wait for ``gate`` (a client that sends slowly)."""

    def __init__(self, pieces: Sequence[bytes], gate: asyncio.Event | None = None) -> None:
        self.pieces = list(pieces)
        self.reads = 0
        self.gate = gate

    async def readany(self) -> bytes:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        return self.pieces.pop(0) if self.pieces else b""


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[api.Encoded] = []
        self.fail = fail

    async def __call__(self, records: Sequence[api.Encoded]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.extend(records)


def pieces_of(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def test_read_body_reads_every_piece_until_the_end() -> None:
    body = b"\n".join(line(n) for n in range(1000))
    assert await read_body(Pieces(pieces_of(body, 7000)), len(body)) == body
    assert await read_body(Pieces([]), 10) == b""


async def test_read_body_stops_once_past_the_limit() -> None:
    stream = Pieces([b"x" * 600] * 10)
    assert await read_body(stream, 1000) is None
    assert stream.reads == 2  # the rest is never read


async def test_a_body_in_many_pieces_is_accepted_whole() -> None:
    sink = Sink()
    intake = Intake(1 << 20, 2, sink)
    body = b"\n".join(line(n) for n in range(1000)) + b"\n"
    answer = await intake.post(None, NDJSON, Pieces(pieces_of(body, 4096)))
    assert (answer.status, answer.body) == (202, {"accepted": 1000, "rejected": 0})
    assert [json.loads(value)["event_id"] for _, _, value in sink.sent] == [
        f"e-{n}" for n in range(1000)
    ]
    assert sink.sent[7][:2] == ("tickets", b"T-7")  # the topic and key Kafka gets
    intake.close()


async def test_too_large_announced_or_not_is_413_and_sends_nothing() -> None:
    sink = Sink()
    intake = Intake(10_000, 2, sink)
    body = b"\n".join(line(n) for n in range(100))
    announced = Pieces(pieces_of(body, 1000))
    answer = await intake.post(len(body), NDJSON, announced)
    assert answer.status == 413 and announced.reads == 0
    chunked = Pieces(pieces_of(body, 1000))
    answer = await intake.post(None, NDJSON, chunked)
    assert (answer.status, answer.body) == (413, {"error": "(body): larger than 10000 bytes"})
    assert chunked.reads == 11 and not sink.sent
    intake.close()


async def test_other_content_types_are_refused_before_reading() -> None:
    intake = Intake(10_000, 2, Sink())
    stream = Pieces([line(1)])
    answer = await intake.post(None, "text/plain", stream)
    assert answer.status == 415 and stream.reads == 0
    intake.close()


async def test_parsing_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = api.parse_events_body

    def spy(body: bytes, content_type: str) -> api.ParsedBatch | api.Reply:
        seen.append(threading.current_thread().name)
        return real(body, content_type)

    monkeypatch.setattr(api, "parse_events_body", spy)
    intake = Intake(10_000, 2, Sink())
    assert (await intake.post(None, NDJSON, Pieces([line(1)]))).status == 202
    intake.close()
    assert seen and seen[0].startswith("post-events")


async def test_beyond_the_concurrency_the_answer_is_503_with_retry_after() -> None:
    sink = Sink()
    intake = Intake(10_000, 2, sink)
    gate = asyncio.Event()
    slow = [
        asyncio.create_task(intake.post(None, NDJSON, Pieces([line(n)], gate))) for n in range(2)
    ]
    await asyncio.sleep(0.05)  # both hold a slot, waiting for their bodies
    third = Pieces([line(3)])
    answer = await intake.post(None, NDJSON, third)
    assert answer.status == 503 and answer.headers == {"Retry-After": "1"}
    assert "in flight" in answer.body["error"] and third.reads == 0
    gate.set()
    assert [a.status for a in await asyncio.gather(*slow)] == [202, 202]
    assert (await intake.post(None, NDJSON, Pieces([line(4)]))).status == 202  # slots free again
    assert len(sink.sent) == 3
    intake.close()


async def test_a_body_too_slow_is_408_and_frees_its_slot() -> None:
    intake = Intake(10_000, 1, Sink(), body_seconds=0.1)
    answer = await intake.post(None, NDJSON, Pieces([line(1)], asyncio.Event()))
    assert answer.status == 408 and "not received within 0.1 s" in answer.body["error"]
    assert (await intake.post(None, NDJSON, Pieces([line(2)]))).status == 202
    intake.close()


async def test_kafka_down_is_503_with_retry_after() -> None:
    intake = Intake(10_000, 1, Sink(fail=True))
    answer = await intake.post(None, NDJSON, Pieces([line(1)]))
    assert answer.status == 503 and answer.headers == {"Retry-After": "5"}
    assert "broker down" in answer.body["error"]
    intake.close()


def test_nesting_depth_gives_a_line_number_never_an_exception() -> None:
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    ok = line(1)[:-1] + b', "x": ' + deep.encode() + b"}"
    too_deep = line(2)[:-1] + b', "x": [' + deep.encode() + b"]}"
    deeper = line(3)[:-1] + b', "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    body = b"\n".join([ok, b"", too_deep, deeper])
    parsed = api.parse_events_body(body, NDJSON)
    assert isinstance(parsed, api.ParsedBatch)
    assert parsed.errors == [{"line": 3, "error": TOO_DEEP}, {"line": 4, "error": TOO_DEEP}]
    array = b"[" + ok + b"," + too_deep + b"]"
    parsed = api.parse_events_body(array, "application/json")
    assert isinstance(parsed, api.ParsedBatch)
    assert parsed.errors == [{"line": 2, "error": TOO_DEEP}]
    # deeper than the parser goes: the body is refused whole, with the same reason
    huge = b"[" * 10_000 + b"]" * 10_000
    assert api.parse_events_body(huge, "application/json") == (400, {"error": TOO_DEEP})


def test_a_body_of_junk_lists_only_the_first_errors() -> None:
    parsed = api.parse_events_body(b"x\n" * 20_000, NDJSON)
    assert isinstance(parsed, api.ParsedBatch)
    assert parsed.rejected == 20_000 and len(parsed.errors) == api.MAX_ERRORS
    assert parsed.errors[-1]["line"] == api.MAX_ERRORS


def test_more_events_than_a_request_may_hold_is_413_before_validating() -> None:
    limit = api.MAX_EVENTS
    too_many = f"{limit + 1} events; at most {limit} a request"
    assert api.parse_events_body(b"{}\n" * (limit + 1), NDJSON) == (
        413,
        {"error": f"(body): {too_many}"},
    )
    array = b"[" + b",".join([b"{}"] * (limit + 1)) + b"]"
    assert api.parse_events_body(array, "application/json") == (
        413,
        {"error": f"(body): {too_many}"},
    )
    parsed = api.parse_events_body(b"{}\n" * limit, NDJSON)
    assert isinstance(parsed, api.ParsedBatch) and parsed.rejected == limit


async def test_account_events_mixed_with_ticket_events_go_to_the_accounts_topic() -> None:
    """Every ``account.*`` type of ``streams.emit`` is accepted next to ticket events, keyed
    by its account, with the value a consumer decodes back to the same event."""
    at = "2026-11-02T09:15:00Z"
    accounts = [
        emit.lead_created("acc-1", "referral", segment="smb", manager="am-ann", occurred_at=at),
        emit.account_assigned("acc-1", "am-ben", segment="mid", occurred_at=at),
        emit.account_touched("acc-1", "phone", duration_seconds=90, occurred_at=at),
        emit.account_converted("acc-1", 490.5, occurred_at=at),
        emit.mrr_changed("acc-1", 690, "upsell", occurred_at=at),
        emit.account_churned("acc-2", voluntary=False, reason="card", occurred_at=at),
    ]
    body = b"\n".join([line(1), *(json.dumps(e).encode() for e in accounts), line(2)]) + b"\n"
    sink = Sink()
    answer = await Intake(1 << 20, 2, sink).post(None, NDJSON, Pieces([body]))
    assert (answer.status, answer.body) == (202, {"accepted": 8, "rejected": 0})
    assert [(kind, key) for kind, key, _ in sink.sent] == [
        ("tickets", b"T-1"),
        *[(api.ACCOUNTS, b"acc-1")] * 5,
        (api.ACCOUNTS, b"acc-2"),
        ("tickets", b"T-2"),
    ]
    for (_, _, value), event in zip(sink.sent[1:7], accounts, strict=True):
        assert decode_any(value) == decode_any(event)


def test_an_invalid_account_event_rejects_the_body_with_its_line() -> None:
    bad = emit.account_converted("acc-1", 10, occurred_at="2026-11-02T09:15:00Z")
    bad["mrr"] = -1
    parsed = api.parse_events_body(line(1) + b"\n" + json.dumps(bad).encode(), NDJSON)
    assert isinstance(parsed, api.ParsedBatch)
    assert (parsed.rejected, parsed.records) == (1, [])
    assert parsed.errors == [{"line": 2, "error": "mrr: must be a non-negative number"}]


async def test_an_aborted_body_says_nothing_was_written_an_unconfirmed_commit_504() -> None:
    async def unconfirmed(records: Sequence[api.Encoded]) -> None:
        raise api.CommitUnknown("no answer to the commit within 90 s")

    aborted = Intake(10_000, 1, Sink(fail=True))
    answer = await aborted.post(None, NDJSON, Pieces([line(1)]))
    assert answer.status == 503 and answer.body["error"].startswith("kafka: nothing was written")
    aborted.close()
    unknown = Intake(10_000, 1, unconfirmed)
    answer = await unknown.post(None, NDJSON, Pieces([line(1)]))
    assert answer.status == 504 and "may or may not be written" in answer.body["error"]
    assert answer.headers == {}
    unknown.close()
