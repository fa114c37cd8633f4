"""The service with one extra, test-only route: GET /slow?seconds=N answers after N seconds.

tests/test_service_process.py runs it in a real uvicorn process (same flags as the Dockerfile's
CMD) to show that SIGTERM lets an in-flight request finish. The production app has no such route.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.app import create_app

log = logging.getLogger("service")


async def slow(request: Request) -> PlainTextResponse:
    seconds = float(request.query_params.get("seconds", "1"))
    log.info("slow request started")
    await asyncio.sleep(seconds)
    return PlainTextResponse(f"slept {seconds}")


app = create_app(extra_routes=[Route("/slow", slow)])
