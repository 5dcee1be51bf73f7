"""What one more event costs on a ticket that already has many: the worker's planner, one event
per batch (a trickle, as an auto-reply loop sends them live).

    TICKETPULSE_PURE_PYTHON=1 .venv/bin/python bench/bench_long_ticket.py [--events 20000]

A ticket is created, then an auto-responder and a bot answer each other (``contact.inbound``
and ``contact.outbound`` in turn). Each event is decoded and planned alone (``decode_batch``
and ``plan``, as ``Worker.handle`` does, without the Redis round trip), and the record the
batch would write is encoded. Prints, at each checkpoint of the ticket's length, the mean
planner's CPU time per event over the last 200 events and the size of the record the last batch
wrote (or, when it wrote none, the last one written).

With ``--preload`` only the last 200 events are planned: the ticket starts from the record of
the ones before (each added to its timeline as the planner adds them), which is what the
planner would hold after them, without the minutes that planning them one by one takes
when each costs more than the last.
"""

from __future__ import annotations

import argparse
import json
import time

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import MICROS_PER_SECOND, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.domain.records import encode_record
from streams.domain.timeline import Timeline
from streams.live.batch import Message, PartitionState, decode_batch, plan

START = parse_rfc3339("2026-11-02T09:00:00Z")
WINDOW = 200


def events(count: int) -> list[Message]:
    created = {
        "event_id": "L-0",
        "type": "ticket.created",
        "occurred_at": "2026-11-02T09:00:00Z",
        "ticket_id": "L",
        "channel": "email",
        "priority": "normal",
        "team": "billing",
    }
    out = [Message("support.tickets", 0, 0, json.dumps(created).encode())]
    for i in range(1, count):
        at = START + i * 3 * MICROS_PER_SECOND
        body = {"event_id": f"L-{i}", "occurred_at": format_rfc3339(at), "ticket_id": "L"}
        if i % 2:
            body |= {"type": "contact.inbound", "channel": "email"}
        else:
            body |= {"type": "contact.outbound", "channel": "email", "agent_id": "bot"}
        out.append(Message("support.contacts", 0, i, json.dumps(body).encode()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--preload", action="store_true", help="plan only the last 200 events")
    args = parser.parse_args()
    policies = default_policies()
    messages = events(args.events)
    checkpoints = {n for n in (1000, 2000, 5000, 10000, 20000, 50000) if n <= args.events}
    checkpoints.add(args.events)
    state = PartitionState(0)
    records = {}
    skipped = 0
    if args.preload:
        skipped = max(args.events - WINDOW, 0)
        timeline = Timeline("L")
        for message in messages[:skipped]:
            decoded = decode_event(message.value)
            assert not isinstance(decoded, InvalidEvent)
            timeline.add(decoded)
        records["L"] = encode_record(timeline, START)
        state.offsets = {"support.contacts": skipped - 1}
    state.load(records, ["L"], policies)
    now = START + args.events * 3 * MICROS_PER_SECOND
    spent = 0.0
    record = records.get("L", b"")
    print(f"{'events':>7} {'ms/event':>9} {'record bytes':>13}")
    for n, message in enumerate(messages[skipped:], start=skipped + 1):
        started = time.process_time()
        result = plan(state, decode_batch([message], state.offsets), policies, now)
        spent += time.process_time() - started
        record = result.writes.tickets.get("L") or record
        if n % WINDOW == 0 or n == len(messages):
            if n in checkpoints:
                print(f"{n:>7} {spent / WINDOW * 1000:>9.3f} {len(record):>13,}")
            spent = 0.0


if __name__ == "__main__":
    main()
