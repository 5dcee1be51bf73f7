"""The HTTP API's reference as an OpenAPI 3.1 document, served at ``GET /openapi.json``.

Response schemas come from the pydantic models below (the shapes ``streams.live.api``
returns); the operations list every route ``streams.live.app`` serves, which a test checks
both ways. docs/api.md is the prose around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from streams.domain.events import Priority
from streams.domain.facts import SlaTarget
from streams.live.at_risk import STATES
from streams.live.paging import DEFAULT_LIMIT, MAX_LIMIT

Target = Literal["first_reply", "next_reply", "resolution"]


class Error(BaseModel):
    error: str = Field(description="what was wrong, starting with the parameter or field")


class Snapshot(BaseModel, extra="allow"):
    """The merged KPI snapshot (docs/snapshot.md), or the slice asked for."""

    as_of: datetime
    windows: dict[str, Any]


class AtRiskTicket(BaseModel):
    ticket_id: str
    target: Target
    state: Literal["breached", "at_risk"]
    deadline: datetime
    seconds_left: float = Field(description="deadline - as_of; below 0 once overdue")
    overdue: bool
    team: str | None
    priority: str | None
    agent: str | None = Field(description="the current assignee")


class AtRiskPage(BaseModel):
    as_of: datetime
    tickets: list[AtRiskTicket]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page (same filters); null: no more"
    )


class Fact(BaseModel):
    kind: str
    time: datetime
    value: float | None
    team: str | None
    channel: str | None
    priority: str | None
    agent: str | None
    target: Target | None


class Clock(BaseModel):
    target: Target
    phase: str
    started_at: datetime
    deadline: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None
    seconds_left: float | None


class Ticket(BaseModel):
    ticket_id: str
    partition: int
    as_of: datetime
    status: str | None
    priority: str | None
    team: str | None
    channel: str | None
    assignee: str | None
    policy: str | None
    created_at: datetime | None
    events: int
    anomalies: int
    facts: list[Fact]
    clocks: list[Clock]


class AtRiskAccount(BaseModel):
    account_id: str
    mrr: float
    segment: str | None
    manager: str | None
    signals: list[str] = Field(description="its health signals, in docs/accounts.md's order")


class AccountsAtRiskPage(BaseModel):
    as_of: datetime | None = Field(description="the latest published list's; null: none yet")
    accounts: list[AtRiskAccount]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page (same filters); null: no more"
    )


class OpenTicket(BaseModel):
    ticket_id: str
    status: str
    priority: str | None
    team: str | None
    created_at: datetime


class Account(BaseModel, extra="allow"):
    """The account's view V (docs/accounts.md), its open tickets and its latest events."""

    account_id: str
    stage: str | None
    segment: str | None
    manager: str | None
    source: str | None
    mrr: float
    support_30d: dict[str, Any]
    manager_touches_30d: int
    signals: list[str]
    at_risk: bool
    as_of: datetime
    open_tickets: list[OpenTicket]
    last_events: list[dict[str, Any]] = Field(description="the latest 20, newest first")


class Accepted(BaseModel):
    accepted: int
    rejected: Literal[0]


class LineError(BaseModel):
    line: int = Field(description="NDJSON line, or position in a JSON array, from 1")
    error: str


class Rejected(BaseModel):
    accepted: Literal[0]
    rejected: int
    errors: list[LineError] = Field(description="the first 100 defects")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    redis: bool
    kafka: bool
    assigned_partitions: list[int]
    last_error: str | None


MODELS: tuple[type[BaseModel], ...] = (
    Error,
    Snapshot,
    AtRiskPage,
    Ticket,
    Account,
    AccountsAtRiskPage,
    Accepted,
    Rejected,
    Health,
    Ready,
)


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    responses: dict[int, tuple[str, str | None]]  # status -> (description, model or type)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    open: bool = False  # no token needed (probes, Prometheus, this document)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


_STRING = {"type": "string", "minLength": 1}
_BAD = (400, ("unknown parameter or bad value", "Error"))

OPERATIONS = (
    Operation(
        "/kpis",
        "get",
        "The latest KPI snapshot, whole or one window and dimension of it",
        {
            200: ("the snapshot", "Snapshot"),
            _BAD[0]: _BAD[1],
            503: ("no snapshot published yet", "Error"),
        },
        [
            _query("window", "one window only", {"type": "string", "enum": ["1h", "24h", "7d"]}),
            _query(
                "by",
                "overall and this dimension only",
                {"type": "string", "enum": ["team", "channel", "priority", "agent"]},
            ),
        ],
    ),
    Operation(
        "/tickets/{ticket_id}",
        "get",
        "One ticket's state, facts and SLA clocks as of now",
        {200: ("the ticket", "Ticket"), 404: ("no such ticket", "Error")},
        [{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}],
    ),
    Operation(
        "/sla/at-risk",
        "get",
        "Breached (still running) and at-risk SLA clocks: breached first, the longest "
        "overdue first, then at-risk by deadline; a page at a time",
        {200: ("a page of clocks", "AtRiskPage"), _BAD[0]: _BAD[1]},
        [
            _query(
                "limit",
                "rows per page",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
            _query("cursor", "the next_cursor of the previous page", {"type": "string"}),
            _query("state", "only breached or only at-risk clocks", {"enum": list(STATES)}),
            _query("target", "one SLA target", {"enum": [t.value for t in SlaTarget]}),
            _query("team", "the ticket's current team", _STRING),
            _query("priority", "the ticket's current priority", {"enum": list(Priority)}),
            _query("agent", "the ticket's current assignee", _STRING),
        ],
    ),
    Operation(
        "/accounts/at-risk",
        "get",
        "The first 10,000 at-risk customers of all partitions, by MRR descending then"
        " account_id; a page at a time",
        {200: ("a page of accounts", "AccountsAtRiskPage"), _BAD[0]: _BAD[1]},
        [
            _query(
                "limit",
                "rows per page",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
            _query("cursor", "the next_cursor of the previous page", {"type": "string"}),
            _query("segment", "the account's current segment", _STRING),
            _query("manager", "the account's current manager", _STRING),
        ],
    ),
    Operation(
        "/accounts/{account_id}",
        "get",
        "One account's view (stage, MRR, support of the last 30 days, signals), its open "
        "tickets and its latest events",
        {200: ("the account", "Account"), 404: ("no such account", "Error")},
        [{"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}],
    ),
    Operation(
        "/events",
        "post",
        "Produce events to Kafka: all valid or none; 202 once Kafka acknowledged them all",
        {
            202: ("every event produced", "Accepted"),
            400: ("no event produced: the body or some events are invalid", "Rejected"),
            408: ("the body was not sent within 60 s", "Error"),
            413: ("body too large, or too many events", "Error"),
            415: ("neither JSON nor NDJSON", "Error"),
            503: ("Kafka unavailable, or too many requests at once (Retry-After)", "Error"),
        },
        body={
            "required": True,
            "content": {
                "application/json": {"schema": {"description": "an event or an array of them"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
    ),
    Operation(
        "/metrics",
        "get",
        "Prometheus metrics (docs/metrics.md)",
        {200: ("the text exposition format", "text/plain")},
        open=True,
    ),
    Operation("/healthz", "get", "Liveness", {200: ("alive", "Health")}, open=True),
    Operation(
        "/readyz",
        "get",
        "Readiness: Redis reachable and partitions assigned",
        {200: ("ready", "Ready"), 503: ("not ready", "Ready")},
        open=True,
    ),
    Operation("/openapi.json", "get", "This document", {200: ("OpenAPI 3.1", "object")}, open=True),
)


def _content(kind: str | None) -> dict[str, Any]:
    if kind == "text/plain":
        return {"text/plain": {"schema": {"type": "string"}}}
    schema = {"type": "object"} if kind == "object" else {"$ref": f"#/components/schemas/{kind}"}
    return {"application/json": {"schema": schema}}


def _operation(op: Operation) -> dict[str, Any]:
    responses = {
        str(status): {"description": text, "content": _content(kind)}
        for status, (text, kind) in op.responses.items()
    }
    if not op.open:
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    responses["405"] = {"$ref": "#/components/responses/MethodNotAllowed"}
    responses["500"] = {"$ref": "#/components/responses/Internal"}
    spec: dict[str, Any] = {"summary": op.summary, "responses": responses}
    if op.parameters:
        spec["parameters"] = op.parameters
    if op.body:
        spec["requestBody"] = op.body
    spec["security"] = [] if op.open else [{"bearer": []}, {}]
    return spec


def document() -> dict[str, Any]:
    """The OpenAPI document (built once per request: it is small)."""
    _, schemas = models_json_schema(
        [(m, "serialization") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)

    def error(text: str) -> dict[str, Any]:
        return {"description": text, "content": _content("Error")}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ticketpulse worker API",
            "version": "1",
            "description": "Live SLA and KPI state of support tickets. Errors are JSON "
            '{"error": "..."}, also for unknown routes (404) and methods (405). See docs/api.md.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "responses": {
                "Unauthorized": error("a token is set and the request has not got it"),
                "MethodNotAllowed": error("another method than the route's (Allow header)"),
                "Internal": error("a bug: the worker's log has the details"),
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "only when TICKETPULSE_API_TOKEN is set",
                }
            },
        },
    }
