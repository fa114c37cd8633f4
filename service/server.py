"""ServiceApp, the app class the service serves, and where its static assets are: no app built.

service/app.py builds the app (`app = create_app()` at import); service/protocol.py only needs
to recognise a ServiceApp, and imports it from here so that loading the protocol builds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from service.contract import HEALTH_PATH, STATIC_SOURCE
from service.health import HealthEndpoint

STATIC_DIR = Path(__file__).resolve().parent.parent / STATIC_SOURCE
_HEALTH_METHODS = frozenset({"GET", "HEAD"})


class ServiceApp(Starlette):
    """Starlette, with GET /_health answered before the middleware stack and the router.

    /_health is the hottest path (every load balancer and container health check) and needs
    none of what sits in front of the routes: no error page, no access log, no metrics, no
    routing. Going through them cost about a third of its throughput (bench/health.py), so the
    same endpoint object that the route table lists is called directly here. Anything else,
    including other methods on the health path (405), takes the ordinary way. (In the
    container, most health checks are answered even earlier, by service/protocol.py; this path
    serves the rest: `Connection: close`, HTTP/1.0, requests with a body, and any server other
    than ours.)
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
