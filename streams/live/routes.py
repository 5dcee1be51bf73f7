"""The worker's HTTP routes on Faust's web server: the API, ``/metrics`` and the probes.

The answers themselves are made in ``streams.live.api`` (reads) and ``streams.live.intake``
(``POST /events``); the views only adapt Faust's requests and responses. Which routes need
the API token is ``streams.live.http_guard``'s business.
"""

from __future__ import annotations

import json
from typing import Any

import faust
from faust.web import Request, Response, View

from streams.domain.policies import PolicySet
from streams.domain.snapshot import Snapshot
from streams.live import account_api, api, openapi
from streams.live.account_api import parse_risk_query
from streams.live.at_risk import parse_query
from streams.live.intake import Intake
from streams.live.metrics import Metrics
from streams.live.metrics.exposition import render_in_thread
from streams.live.settings import WorkerSettings
from streams.live.stores.protocol import Store
from streams.live.worker import Worker


def reply(view: View, result: api.Reply) -> Response:
    status, body = result
    return view.json(body, status=status)


def register(
    app: faust.App,
    *,
    settings: WorkerSettings,
    policies: PolicySet,
    store: Store,
    worker: Worker,
    metrics: Metrics,
    intake: Intake,
) -> None:
    """Add the worker's pages to ``app``."""

    @app.page("/kpis")
    class Kpis(View):
        async def get(self, request: Request) -> Response:
            raw = await store.read_snapshot()
            snapshot = Snapshot.from_json(json.loads(raw)) if raw else None
            query = request.query
            return reply(self, api.kpis(snapshot, query.get("window"), query.get("by")))

    @app.page("/tickets/{ticket_id}")
    class Ticket(View):
        async def get(self, request: Request, ticket_id: str) -> Response:
            result = await api.ticket(store, policies, settings.partitions, ticket_id, worker.now())
            return reply(self, result)

    @app.page("/sla/at-risk")
    class AtRisk(View):
        async def get(self, request: Request) -> Response:
            query = parse_query(request.query.items())
            if isinstance(query, str):
                return reply(self, (400, {"error": query}))
            now = worker.now()
            return reply(self, await api.at_risk(store, policies, settings.partitions, now, query))

    # before /accounts/{account_id}: an account named "at-risk" is not reachable
    @app.page("/accounts/at-risk")
    class AccountsAtRisk(View):
        async def get(self, request: Request) -> Response:
            query = parse_risk_query(request.query.items())
            if isinstance(query, str):
                return reply(self, (400, {"error": query}))
            return reply(
                self, await account_api.accounts_at_risk(store, settings.partitions, query)
            )

    @app.page("/accounts/{account_id}")
    class Account(View):
        async def get(self, request: Request, account_id: str) -> Response:
            now = worker.now()
            parts = settings.partitions
            return reply(self, await account_api.account(store, policies, parts, account_id, now))

    @app.page("/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            raw: Any = request  # aiohttp's request under Faust's thin type
            answer = await intake.post(raw.content_length, raw.content_type, raw.content)
            return self.json(answer.body, status=answer.status, headers=answer.headers)

    @app.page("/metrics")
    class MetricsPage(View):
        async def get(self, request: Request) -> Response:
            text = await render_in_thread(metrics.registry)
            return self.bytes(text, content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            redis_ok = await store.ping()
            kafka_ok = not app.consumer.should_stop if app.consumer else False
            ready = redis_ok and worker.health.assigned
            body = {
                "ready": ready,
                "redis": redis_ok,
                "kafka": kafka_ok,
                "assigned_partitions": sorted(worker.states),
                "last_error": worker.health.last_error,
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return self.json(openapi.document())
