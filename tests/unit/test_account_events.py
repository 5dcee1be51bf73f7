"""Account events: decoding every type and defect, the wire form, and the emit builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams import emit
from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent, AccountEventType
from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.events import Event
from streams.domain.instant import parse_rfc3339

T0 = "2026-11-02T09:15:00Z"

VALID: dict[AccountEventType, dict[str, Any]] = {
    AccountEventType.LEAD_CREATED: {"source": "referral", "segment": "smb", "manager": "ann"},
    AccountEventType.ASSIGNED: {"manager": "bob"},
    AccountEventType.TOUCHED: {"channel": "meeting", "duration_seconds": 1800},
    AccountEventType.CONVERTED: {"mrr": 99.99},
    AccountEventType.MRR_CHANGED: {"mrr": 150, "reason": "upsell"},
    AccountEventType.CHURNED: {},
}


def wire(kind: AccountEventType, **fields: Any) -> dict[str, Any]:
    event = {"event_id": "e1", "type": kind.value, "occurred_at": T0, "account_id": "A1"}
    event.update(VALID[kind])
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


@pytest.mark.parametrize("kind", list(AccountEventType))
def test_every_type_decodes_from_bytes_and_round_trips(kind: AccountEventType) -> None:
    raw = wire(kind)
    decoded = decode_any(json.dumps(raw).encode())
    assert isinstance(decoded, AccountEvent)
    assert decoded.type is kind
    assert decoded.account_id == "A1"
    assert decoded.occurred_at == parse_rfc3339(T0)
    expected = dict(raw)
    if kind is AccountEventType.CHURNED:
        expected["voluntary"] = True  # the default, written out
    assert decoded.to_json() == expected


def test_amounts_are_exact_integers() -> None:
    largest = decode_any(wire(AccountEventType.CONVERTED, mrr=1_000_000_000))
    assert isinstance(largest, AccountEvent) and largest.mrr == 10**15
    converted = decode_any(wire(AccountEventType.CONVERTED, mrr=0.1))
    touched = decode_any(wire(AccountEventType.TOUCHED, duration_seconds=1.5))
    assert isinstance(converted, AccountEvent) and converted.mrr == 100_000
    assert isinstance(touched, AccountEvent) and touched.duration == 1_500_000


@pytest.mark.parametrize(
    ("kind", "fields", "error"),
    [
        (AccountEventType.LEAD_CREATED, {"source": None}, "source: required"),
        (
            AccountEventType.LEAD_CREATED,
            {"source": "tv"},
            "source: must be one of inbound, outbound, referral, partner, event, other",
        ),
        (AccountEventType.LEAD_CREATED, {"segment": ""}, "segment: must be a non-empty string"),
        (AccountEventType.ASSIGNED, {"manager": None}, "manager: required"),
        (AccountEventType.ASSIGNED, {"manager": 7}, "manager: must be a non-empty string"),
        (
            AccountEventType.TOUCHED,
            {"channel": "fax"},
            "channel: must be one of email, phone, meeting, chat, social, ads",
        ),
        (
            AccountEventType.TOUCHED,
            {"duration_seconds": -1},
            "duration_seconds: must be a non-negative number",
        ),
        (AccountEventType.CONVERTED, {"mrr": None}, "mrr: required"),
        (AccountEventType.CONVERTED, {"mrr": -5}, "mrr: must be a non-negative number"),
        (AccountEventType.CONVERTED, {"mrr": True}, "mrr: must be a non-negative number"),
        (AccountEventType.CONVERTED, {"mrr": "10"}, "mrr: must be a non-negative number"),
        # absurd amounts: a clear error, not an overflow converting to millionths
        (AccountEventType.CONVERTED, {"mrr": 1.8e302}, "mrr: must be at most 1000000000"),
        (AccountEventType.MRR_CHANGED, {"mrr": 10**400}, "mrr: must be at most 1000000000"),
        (AccountEventType.CONVERTED, {"mrr": 1_000_000_000.5}, "mrr: must be at most"),
        (AccountEventType.MRR_CHANGED, {"reason": None}, "reason: required"),
        (
            AccountEventType.MRR_CHANGED,
            {"reason": "inflation"},
            "reason: must be one of upsell, cross_sell, downgrade, price_change",
        ),
        (AccountEventType.CHURNED, {"voluntary": "yes"}, "voluntary: must be true or false"),
        (AccountEventType.CHURNED, {"reason": 3}, "reason: must be a non-empty string"),
        (AccountEventType.CHURNED, {"account_id": None}, "account_id: required"),
        (AccountEventType.CHURNED, {"account_id": "x" * 201}, "account_id: longer than 200"),
        (AccountEventType.CHURNED, {"occurred_at": "yesterday"}, "occurred_at: not an RFC"),
        (AccountEventType.CHURNED, {"event_id": None}, "event_id: required"),
    ],
)
def test_defects_are_dead_lettered_with_their_field(
    kind: AccountEventType, fields: dict[str, Any], error: str
) -> None:
    decoded = decode_any(wire(kind, **fields))
    assert isinstance(decoded, InvalidEvent)
    assert decoded.error.startswith(error)
    assert decoded.raw == wire(kind, **fields)  # the dead letter carries the original


def test_unknown_types_and_ticket_events_are_decoded_as_before() -> None:
    unknown = decode_any({"event_id": "e", "type": "account.merged", "occurred_at": T0})
    assert isinstance(unknown, InvalidEvent)
    assert unknown.error == "type: unknown event type 'account.merged'"
    ticket = {
        "event_id": "t",
        "type": "survey.nps",
        "occurred_at": T0,
        "ticket_id": "T1",
        "score": 3,
        "account_id": "A1",
    }
    assert decode_any(ticket) == decode_event(ticket)
    assert isinstance(decode_any(ticket), Event)
    # the ticket-only decoder does not know account events: the worker's ticket topics
    assert isinstance(decode_event(wire(AccountEventType.CHURNED)), InvalidEvent)


def test_extra_fields_are_kept_and_ignored() -> None:
    decoded = decode_any(wire(AccountEventType.ASSIGNED, crm="hubspot", ticket_id="T9"))
    assert isinstance(decoded, AccountEvent)
    assert decoded.extra == {"crm": "hubspot", "ticket_id": "T9"}
    assert decoded == decode_any(wire(AccountEventType.ASSIGNED))  # extra is not the value


def test_an_extra_field_nested_too_deep_is_invalid_as_for_ticket_events() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    decoded = decode_any(wire(AccountEventType.ASSIGNED, crm=deep))
    assert isinstance(decoded, InvalidEvent)
    ticket = {"event_id": "t", "type": "ticket.assigned", "occurred_at": T0, "ticket_id": "T1"}
    expected = decode_event({**ticket, "agent_id": "a", "crm": deep})
    assert isinstance(expected, InvalidEvent)
    assert decoded.error == expected.error


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "mrr",
                "reason",
                "manager",
                "channel",
                "source",
                "segment",
                "voluntary",
                "duration_seconds",
            ]
        ),
        st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=5)),
    ),
    st.sampled_from(list(AccountEventType)),
)
def test_arbitrary_fields_never_raise(fields: dict[str, Any], kind: AccountEventType) -> None:
    decoded = decode_any(wire(kind, **fields))
    if isinstance(decoded, InvalidEvent):
        assert not decoded.error.startswith("(internal)")
        field = decoded.error.split(":")[0]
        assert field in fields or field in VALID[kind]
    else:
        assert decoded.type is kind


def test_emit_builders_route_by_account() -> None:
    built = [
        emit.lead_created("A1", "inbound", segment="smb", manager="ann", occurred_at=T0),
        emit.account_assigned("A1", "bob", segment="mid", occurred_at=T0),
        emit.account_touched("A1", "phone", duration_seconds=60, occurred_at=T0),
        emit.account_converted("A1", 120.0, occurred_at=T0),
        emit.mrr_changed("A1", 150.0, "upsell", occurred_at=T0),
        emit.account_churned("A1", voluntary=False, reason="payment failed", occurred_at=T0),
    ]
    assert [e["type"] for e in built] == [t.value for t in AccountEventType]
    for event in built:
        message = emit.outgoing(event)
        assert (message.topic, message.key) == ("crm.accounts", b"A1")
        assert isinstance(decode_any(message.value), AccountEvent)
    assert emit.outgoing(built[0], emit.TopicNames(accounts="crm.x")).topic == "crm.x"


def test_emit_builders_refuse_invalid_fields() -> None:
    with pytest.raises(ValueError, match="mrr: must be a non-negative number"):
        emit.mrr_changed("A1", -1, "upsell")
    with pytest.raises(ValueError, match="source: must be one of"):
        emit.lead_created("A1", "tv")


def test_the_documented_examples_are_valid_one_per_type() -> None:
    doc = Path(__file__).parents[2] / "docs" / "events.md"
    lines = [line for line in doc.read_text().splitlines() if line.startswith('{"event_id":"AC-')]
    decoded = [decode_any(line) for line in lines]
    assert all(isinstance(event, AccountEvent) for event in decoded), decoded
    assert [e.type for e in decoded if isinstance(e, AccountEvent)] == list(AccountEventType)
