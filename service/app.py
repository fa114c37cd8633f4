"""The scalable-app service: a Starlette app, served by uvicorn (see `python -m service`).

`app` is what uvicorn loads (contract.APP_MODULE); tests build their own with `create_app()`
and a settings mapping of their choosing. ServiceApp and STATIC_DIR live in service/server.py,
which builds nothing at import; they are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from service.access import AccessLog
from service.contract import HEALTH_PATH, STATIC_PATH
from service.health import HealthEndpoint
from service.jsonlog import JsonLines
from service.metrics import RequestMetrics
from service.page import homepage_endpoint
from service.server import STATIC_DIR, ServiceApp
from service.settings import Settings, load_settings

__all__ = ["STATIC_DIR", "ServiceApp", "app", "create_app"]

log = logging.getLogger("service")


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
