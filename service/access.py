"""The access log: one JSON line per request, which is also the request's EMF metrics line.

A pure ASGI middleware (no BaseHTTPMiddleware, no Request object): it wraps `send` to see the
status, times the request and writes one line when the response is done. Health checks
(GET and HEAD /_health) never get here: ServiceApp answers them before the middleware stack,
unlogged and unmeasured. Anything else on the health path (a POST: 405) is logged like any
other request.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.jsonlog import JsonLines, utc_timestamp
from service.metrics import UNMATCHED_ROUTE, RequestMetrics


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: RequestMetrics, lines: JsonLines) -> None:
        self.app = app
        self.metrics = metrics
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500  # what the client gets if the app raises before starting a response
        started = time.perf_counter()

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self._write(scope, status, (time.perf_counter() - started) * 1000)

    def _write(self, scope: Scope, status: int, duration_ms: float) -> None:
        now = time.time()
        duration_ms = round(duration_ms, 3)
        route = scope.get("route")  # set by Starlette's router on a match
        fields = {
            "time": utc_timestamp(now),
            "level": "INFO",
            "logger": "service.access",
            "message": "request",
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": duration_ms,
        }
        fields.update(
            self.metrics.fields(
                route=getattr(route, "path", UNMATCHED_ROUTE),
                status=status,
                latency_ms=duration_ms,
                timestamp_ms=int(now * 1000),
            )
        )
        self.lines.write(fields)
