"""uvicorn's httptools protocol, answering plain `GET /_health` on the connection itself.

Why: `/_health` is the hottest path and its answer needs nothing from the request. Through ASGI,
uvicorn spends most of a request's CPU on machinery around the app (a scope, a task, a cycle,
header checks), so even a bare ASGI app stays far from the issue's targets on a small task
(bench/health.py). Answered here, a health check costs about a third of that: the parser
callbacks, one pre-rendered write and the keep-alive timer.

What is answered here: a complete `GET /_health` (no query string), HTTP/1.1, keep-alive, not
an upgrade, with no earlier request still in flight on the connection (so responses never
overtake each other) and a client that reads its answers (else the ordinary path's flow control
applies: it stops reading from a client that does not). The body comes from the served app's
own HealthEndpoint, so both paths answer the same bytes. Everything else (HEAD, `Connection:
close`, HTTP/1.0, pipelined requests, other paths) takes uvicorn's ordinary way, where
ServiceApp's ASGI fast path still skips Starlette's stack.

This subclasses uvicorn internals (`HttpToolsProtocol`, pinned in service/requirements.txt):
tests/test_service_protocol.py drives it over real sockets (keep-alive, pipelining, other
methods, idle timeout, SIGTERM), so a uvicorn upgrade that changes them fails there first.
Serve with `--http service.protocol:HealthFirstProtocol`.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.contract import HEALTH_PATH
from service.health import HealthEndpoint
from service.server import ServiceApp

_HEALTH_URL = HEALTH_PATH.encode()
_STATUS_LINE = b"HTTP/1.1 200 OK\r\n"


def find_health(app: Any) -> HealthEndpoint | None:
    """The HealthEndpoint of the ServiceApp under uvicorn's wrappers, if that is what is served."""
    while not isinstance(app, ServiceApp) and hasattr(app, "app"):
        app = app.app
    return app.health if isinstance(app, ServiceApp) else None


class HealthFirstProtocol(HttpToolsProtocol):
    # Shared by every connection (a health checker may open a fresh one per check):
    # - the app served, with its HealthEndpoint: uvicorn hands each connection the same object;
    # - the status line and headers, with the default header list they were rendered from:
    #   uvicorn replaces that list once a second (the date), and it is rendered again then.
    # Each is one tuple, replaced whole, holding the object it was found for.
    _health_of: tuple[Any, HealthEndpoint | None] = (None, None)
    _head_of: tuple[Any, bytes] = (None, b"")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app, health = HealthFirstProtocol._health_of
        if app is not self.app:
            health = find_health(self.app)
            HealthFirstProtocol._health_of = (self.app, health)
        self._health = health
        self._answered = False  # the request being parsed was answered here

    def _response_head(self) -> bytes:
        """Status line and headers: uvicorn's defaults (date, server) and the health headers."""
        defaults = self.server_state.default_headers
        rendered_for, head = HealthFirstProtocol._head_of
        if defaults is not rendered_for:
            lines = [b"%s: %s\r\n" % pair for pair in (*defaults, *HealthEndpoint.HEADERS)]
            head = _STATUS_LINE + b"".join(lines)
            HealthFirstProtocol._head_of = (defaults, head)
        return head

    def on_headers_complete(self) -> None:
        # A request parsed in the same chunk as an answered one finds the keep-alive timer that
        # answer armed: disarm it, as data_received does for a request in a chunk of its own.
        self._unset_keepalive_if_required()
        parser = self.parser
        if (
            self._health is not None
            and self.url == _HEALTH_URL
            and parser.get_method() == b"GET"
            and parser.get_http_version() == "1.1"
            and parser.should_keep_alive()
            and not parser.should_upgrade()
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.flow.write_paused  # a client not reading: the ordinary way pushes back
        ):
            self._answered = True
            body = self._health.body()
            self.transport.write(
                b"%scontent-length: %d\r\n\r\n%s" % (self._response_head(), len(body), body)
            )
            return
        self._answered = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._answered:
            self._answered = False
            # What the end of an ASGI response does: count it, resume reading if paused, start
            # a pipelined request or arm the keep-alive timeout.
            self.on_response_complete()
            return
        super().on_message_complete()
