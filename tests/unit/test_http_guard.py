"""The guard in front of the HTTP views: bearer token, JSON for unknown routes and failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.errors import ConfigError
from streams.live.http_guard import Guard, bearer_matches, unguarded_warning
from streams.live.settings import WorkerSettings

TOKEN = "s3cret-token"


def test_bearer_matches() -> None:
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert bearer_matches(f"bearer  {TOKEN} ", TOKEN)
    for header in (None, "", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer s3cret"):
        assert not bearer_matches(header, TOKEN), header
    assert not bearer_matches("Bearer é", TOKEN)  # not ASCII: refused, not an exception


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def broken(request: web.Request) -> web.Response:
    raise RecursionError("maximum recursion depth exceeded")


async def client_for(token: str) -> TestClient[web.Request, web.Application]:
    guard = Guard(token)
    app = web.Application(middlewares=[guard.middleware])
    app.router.add_get("/healthz", ok)
    app.router.add_get("/kpis", ok)
    app.router.add_get("/tickets/{ticket_id}", ok)
    app.router.add_post("/events", ok)
    app.router.add_get("/broken", broken)
    app.router.add_get("/", ok)  # a page not in ``routes``, like Faust's index
    guard.routes = frozenset({"/healthz", "/kpis", "/tickets/{ticket_id}", "/events", "/broken"})
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def open_api() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await client_for("")
    yield client
    await client.close()


@pytest.fixture
async def locked_api() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await client_for(TOKEN)
    yield client
    await client.close()


async def test_unknown_routes_and_methods_answer_json(
    open_api: TestClient[web.Request, web.Application],
) -> None:
    for path in ("/", "/router/key/", "/table/x", "/kpis/"):
        response = await open_api.get(path)
        assert response.status == 404, path
        assert await response.json() == {"error": f"no route {path}"}
    response = await open_api.put("/kpis")
    assert response.status == 405 and response.headers["Allow"] == "GET, HEAD"
    assert "not allowed" in (await response.json())["error"]
    response = await open_api.get("/broken")
    assert response.status == 500
    text = await response.text()
    assert "(internal)" in text and "Traceback" not in text and "Recursion" not in text
    assert (await open_api.post("/events")).status == 200  # no token set: open


async def test_with_a_token_everything_but_the_probes_needs_it(
    locked_api: TestClient[web.Request, web.Application],
) -> None:
    for method, path in (("POST", "/events"), ("GET", "/kpis"), ("GET", "/tickets/T-1")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await locked_api.request(method, path, headers=headers)
            assert response.status == 401, (path, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "bearer token" in (await response.json())["error"]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert (await locked_api.request(method, path, headers=headers)).status == 200
    assert (await locked_api.get("/healthz")).status == 200
    assert (await locked_api.get("/nowhere")).status == 404  # unknown before unauthorised


def test_settings_of_the_http_edge() -> None:
    settings = WorkerSettings.from_env({"TICKETPULSE_API_TOKEN": TOKEN})
    assert settings.api_token == TOKEN and TOKEN not in repr(settings)
    assert WorkerSettings.from_env({}).api_token == ""  # no token: the API is open
    assert WorkerSettings.from_env({}).post_concurrency == 4
    for name in ("TICKETPULSE_POST_CONCURRENCY", "TICKETPULSE_MAX_BODY_BYTES"):
        with pytest.raises(ConfigError, match=f"{name}.*must be at least 1"):
            WorkerSettings.from_env({name: "0"})


def test_a_worker_open_to_the_network_without_a_token_is_warned_about() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert unguarded_warning(host, 6066, "") is None, host
    for host in ("0.0.0.0", "10.1.2.3", "::", "worker"):
        warning = unguarded_warning(host, 6066, "")
        assert warning is not None and f"{host}:6066 has no token" in warning, host
        assert unguarded_warning(host, 6066, TOKEN) is None
