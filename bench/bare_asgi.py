"""The floor: a bare ASGI app answering the same JSON as the service's /_health (bench only)."""

from __future__ import annotations

import json
import time

_STARTED = time.monotonic()
_HEAD = json.dumps({"status": "ok", "version": "bench"}, separators=(",", ":"))[:-1].encode()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: nothing to do (uvicorn falls back when the app ignores it)
    body = b'%s,"uptime":%.3f}' % (_HEAD, time.monotonic() - _STARTED)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
