"""The OpenAPI document: valid, and it lists exactly the routes and methods the worker serves."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from streams.domain.policies import default_policies
from streams.live.app import create_app
from streams.live.http_guard import OPEN
from streams.live.metrics import Metrics
from streams.live.openapi import document
from streams.live.settings import WorkerSettings
from streams.live.store import RedisStore

METHODS = ("get", "post", "put", "patch", "delete")


def served() -> dict[str, set[str]]:
    """Path -> methods of the views the worker's app mounts (nothing is started)."""
    client = Redis()  # never connected
    app, _ = create_app(
        WorkerSettings(group_id="openapi-test"),
        default_policies(),
        RedisStore(client),
        Metrics(CollectorRegistry()),
    )
    views: dict[str, Any] = app.web.views
    return {path: {m for m in METHODS if m in type(v).__dict__} for path, v in views.items()}


def test_the_document_is_valid_openapi() -> None:
    spec = document()
    validate(spec)  # type: ignore[arg-type]
    assert spec["openapi"].startswith("3.")


def test_every_served_route_is_documented_and_nothing_else() -> None:
    spec = document()
    documented = {path: set(ops) for path, ops in spec["paths"].items()}
    assert documented == served()


def test_routes_without_token_are_those_the_guard_leaves_open() -> None:
    spec = document()
    paths = spec["paths"].items()
    open_paths = {p for p, ops in paths if all(op["security"] == [] for op in ops.values())}
    assert open_paths == set(OPEN)


def test_at_risk_documents_its_parameters_and_row_fields() -> None:
    spec = document()
    operation = spec["paths"]["/sla/at-risk"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["limit", "cursor", "state", "target", "team", "priority", "agent"]
    row = spec["components"]["schemas"]["AtRiskTicket"]["properties"]
    assert set(row) >= {"ticket_id", "target", "state", "deadline", "team", "priority", "agent"}
    assert "400" in operation["responses"]
