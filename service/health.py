"""GET /_health: the hottest path of the service, as a raw ASGI endpoint.

Load balancer and container health checks call it constantly, so everything that does not
change between calls (headers, the JSON up to the uptime) is rendered once, when the app is
built; a request costs one clock read and two `send` calls. The body holds the status, the
version and the uptime, and nothing else: no environment variable, header or setting.
"""

from __future__ import annotations

import json
import time

from starlette.types import Receive, Scope, Send

STATUS_OK = "ok"


class HealthEndpoint:
    """An ASGI app answering {"status": "ok", "version": ..., "uptime": seconds}."""

    # The same for every answer; service/protocol.py sends them too (plus content-length).
    HEADERS = (
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, version: str) -> None:
        self.started = time.monotonic()
        # Everything before the uptime, rendered once: '{"status":"ok","version":"abc","uptime":'
        head = json.dumps({"status": STATUS_OK, "version": version}, separators=(",", ":"))
        self._head = head[:-1].encode() + b',"uptime":'

    def restart_clock(self) -> None:
        """Count the uptime from now (the lifespan calls it when the server starts)."""
        self.started = time.monotonic()

    def body(self) -> bytes:
        return b"%s%.3f}" % (self._head, time.monotonic() - self.started)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*self.HEADERS, (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
