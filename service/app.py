"""The scalable-app service: a Starlette app, served by uvicorn (see `python -m service`).

`app` is what uvicorn loads (contract.APP_MODULE); tests build their own with `create_app()`
and a settings mapping of their choosing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from service.access import AccessLog
from service.contract import HEALTH_PATH, STATIC_PATH, STATIC_SOURCE
from service.health import HealthEndpoint
from service.jsonlog import JsonLines
from service.metrics import RequestMetrics
from service.page import homepage_endpoint
from service.settings import Settings, load_settings

STATIC_DIR = Path(__file__).resolve().parent.parent / STATIC_SOURCE
log = logging.getLogger("service")
_HEALTH_METHODS = frozenset({"GET", "HEAD"})


class ServiceApp(Starlette):
    """Starlette, with GET /_health answered before the middleware stack and the router.

    /_health is the hottest path (every load balancer and container health check) and needs
    none of what sits in front of the routes: no error page, no access log, no metrics, no
    routing. Going through them cost about a third of its throughput (bench/health.py), so the
    same endpoint object that the route table lists is called directly here. Anything else,
    including other methods on the health path (405), takes the ordinary way. (In the
    container, most health checks are answered even earlier, by service/protocol.py; this path
    serves the rest: HEAD, `Connection: close`, and any server other than ours.)
    """

    def __init__(self, *, health: HealthEndpoint, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == HEALTH_PATH
            and scope["method"] in _HEALTH_METHODS
        ):
            await self.health(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    lines: JsonLines | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> ServiceApp:
    """Build the app. `extra_routes` lets tests add routes (a slow one) to the real app."""
    settings = settings or load_settings()
    health = HealthEndpoint(settings.version)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        health.restart_clock()
        log.info("service started, version %s", settings.version)
        yield
        log.info("service stopped")

    routes: list[BaseRoute] = [
        Route("/", homepage_endpoint(settings.static_url), methods=["GET"]),
        Route(HEALTH_PATH, health, methods=["GET"]),
        Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static"),
        *(extra_routes or []),
    ]
    middleware = [
        Middleware(
            AccessLog, metrics=RequestMetrics(settings.service_name), lines=lines or JsonLines()
        )
    ]
    return ServiceApp(health=health, routes=routes, middleware=middleware, lifespan=lifespan)


app = create_app()
