"""In front of every HTTP view: who may call it, and JSON for whatever is not a view.

With a token set (``TICKETPULSE_API_TOKEN``) every route but the probes and ``/metrics``
needs ``Authorization: Bearer <token>``: ``POST /events`` writes, and the reads show ticket,
team and agent data. Only the worker's own routes answer; Faust's built-in pages and any
other path get a JSON 404, a wrong method a JSON 405, and a bug a JSON 500 that shows no
traceback (the log has it).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

# probes, Prometheus and the API's reference: no token
OPEN = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``, compared in constant
    time (no timing tells how much of a guess was right)."""
    scheme, _, given = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def unguarded_warning(host: str, port: int, token: str) -> str | None:
    """What to warn about at start: an API without a token on an address other than
    loopback (anyone who reaches it may post events and read tickets)."""
    if token or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: it may resolve to anything
        pass
    return (
        f"the HTTP API on {host}:{port} has no token (TICKETPULSE_API_TOKEN): anyone who "
        "reaches it can post events and read ticket data (docs/security.md)"
    )


class Guard:
    """The aiohttp middleware; ``routes`` (path patterns) is set once the views are added."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.routes: frozenset[str] = frozenset()

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.handle(request, handler)

        self.middleware = guard

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        refused = match.http_exception
        if isinstance(refused, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(refused.allowed_methods))
            error = f"method {request.method} not allowed on {request.path}; use {allowed}"
            return web.json_response({"error": error}, status=405, headers={"Allow": allowed})
        resource = match.route.resource
        route = resource.canonical if resource is not None else None
        if refused is not None or route not in self.routes:
            return web.json_response({"error": f"no route {request.path}"}, status=404)
        authorization = request.headers.get("Authorization")
        if self.token and route not in OPEN and not bearer_matches(authorization, self.token):
            return web.json_response(
                {"error": "(auth): missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="ticketpulse"'},
            )
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("HTTP %s %s failed", request.method, request.path)
            error = "(internal): the request failed; the worker's log has the details"
            return web.json_response({"error": error}, status=500)
