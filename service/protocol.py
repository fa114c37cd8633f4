"""uvicorn's httptools protocol, answering plain `GET`/`HEAD /_health` on the connection itself,
and holding every request (whichever path answers it) to RFC 9112's Host rule and a header-read
deadline.

Why: `/_health` is the hottest path and its answer needs nothing from the request. Through ASGI,
uvicorn spends most of a request's CPU on machinery around the app (a scope, a task, a cycle,
header checks), so even a bare ASGI app stays far from the issue's targets on a small task
(bench/health.py). Answered here, a health check costs about a third of that: the parser
callbacks, one pre-rendered write and the keep-alive timer.

What is answered here: only a request this class fully understands, so that the parser's verdict
is never contradicted and each request gets exactly one response. That is a `GET` or `HEAD
/_health` (no query string), HTTP/1.1, keep-alive, not an upgrade, with exactly one Host, no
Transfer-Encoding and no Content-Length other than 0 (a body, even a malformed one, is the
parser's business), with no earlier request still in flight on the connection (so responses
never overtake each other) and a client that reads its answers (else the ordinary path's flow
control applies). The answer is written once the parser has accepted the whole message, then
the connection goes on exactly as after an ASGI response (keep-alive timer, next request). The
body comes from the served app's own HealthEndpoint, so both paths answer the same bytes.
Everything else (`Connection: close`, HTTP/1.0, pipelined requests, requests with a body, other
paths) takes uvicorn's ordinary way, where ServiceApp's ASGI fast path still skips Starlette.

On both paths (uvicorn's stock protocol has neither):
- Host (RFC 9112, section 3.2): an HTTP/1.1 request without a Host header, or any request with
  more than one, is answered 400 and the connection closed. The 400 takes the ordinary way, so
  it comes after the answers to earlier pipelined requests, in order.
- Header-read timeout (settings HEADER_TIMEOUT): a client that connects, or starts a request,
  and has not finished its headers within the timeout is disconnected, even if it trickles bytes.
  Once the headers are in, uvicorn's own timeouts take over, as before.

This subclasses uvicorn internals (`HttpToolsProtocol`, pinned in service/requirements.txt):
tests/test_service_protocol*.py drive it over real sockets (keep-alive, pipelining, bodies,
malformed requests, Host, timeouts, SIGTERM), so a uvicorn upgrade that changes them fails there
first. Serve with `--http service.protocol:HealthFirstProtocol`.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.contract import HEALTH_PATH
from service.health import HealthEndpoint
from service.server import ServiceApp
from service.settings import load_settings

_HEALTH_URL = HEALTH_PATH.encode()
_ANSWERED_METHODS = frozenset({b"GET", b"HEAD"})
_STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
_BAD_HOST = b"Invalid HTTP request received: missing or duplicate Host header."


def find_health(app: Any) -> HealthEndpoint | None:
    """The HealthEndpoint of the ServiceApp under uvicorn's wrappers, if that is what is served."""
    while not isinstance(app, ServiceApp) and hasattr(app, "app"):
        app = app.app
    return app.health if isinstance(app, ServiceApp) else None


@functools.cache
def header_timeout() -> float:
    """HEADER_TIMEOUT, read once per process (the app validated it when it was built)."""
    return load_settings().header_timeout


def scan_headers(headers: list[tuple[bytes, bytes]]) -> tuple[int, bool]:
    """How many Host fields the request has, and whether it declares a body (any
    Transfer-Encoding, or a Content-Length other than 0). Names are lower case (uvicorn's on_header
    lowers them)."""
    hosts = 0
    has_body = False
    for name, value in headers:
        if name == b"host":
            hosts += 1
        elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            has_body = True
    return hosts, has_body


async def bad_host(scope: Scope, receive: Receive, send: Send) -> None:
    """What a request with a missing or duplicate Host gets, in its turn: 400, then the
    connection closed (`connection: close`), as after a request the parser rejects."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(_BAD_HOST)),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": _BAD_HOST})


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
        self._header_timeout = header_timeout()
        self._header_timer: asyncio.TimerHandle | None = None
        # The header list of the last request whose headers completed. uvicorn's on_message_begin
        # gives each request a new list (self.headers), so while self.headers is another one, a
        # request has begun and is still inside its headers. (Cheaper than overriding
        # on_message_begin, on the hot path, to keep a flag.)
        self._completed_headers: list[tuple[bytes, bytes]] | None = None
        self._bad_host = False  # the request being parsed is refused for its Host
        self._answering: bytes | None = None  # the method of a request answered here, if any

    # ---- connection lifetime ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A client that connects and sends nothing owes us headers too.
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Only a chunk that ends inside a request's headers arms the timer: requests that arrive
        # whole (nearly all) never create one. An armed timer is left alone, so that trickling
        # bytes does not push the deadline back.
        if (
            self.headers is not self._completed_headers
            and self._header_timer is None
            and not self.transport.is_closing()
        ):
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.flow.read_paused:
            # We stopped reading (pipelined requests queued): the rest of the headers may be
            # waiting on our side. Give the client its full time again once we read.
            self._arm_header_timer()
            return
        # What a graceful shutdown does: close now, or right after the response in flight, so
        # that an earlier request's answer is not cut short by a later one's stall.
        self.shutdown()

    def _should_upgrade(self) -> bool:
        # A request refused for its Host is answered 400, never handed to the WebSocket protocol.
        return not self._bad_host and super()._should_upgrade()

    # ---- parser callbacks ------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._completed_headers = self.headers
        self._disarm_header_timer()
        # A request parsed in the same chunk as one answered here finds the keep-alive timer that
        # answer armed: disarm it, as data_received does for a request in a chunk of its own.
        self._unset_keepalive_if_required()
        parser = self.parser
        hosts, has_body = scan_headers(self.headers)
        self._bad_host = hosts > 1 or (hosts == 0 and parser.get_http_version() == "1.1")
        if self._bad_host:
            self.logger.warning(_BAD_HOST.decode())
            self._queue_ordinary(bad_host)
            return
        method = parser.get_method()
        if (
            self._health is not None
            and self.url == _HEALTH_URL
            and method in _ANSWERED_METHODS
            and not has_body
            and parser.get_http_version() == "1.1"
            and parser.should_keep_alive()
            and not parser.should_upgrade()
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.flow.write_paused  # a client not reading: the ordinary way pushes back
        ):
            # Answered in on_message_complete, once the parser has accepted the whole request.
            self._answering = method
            return
        self._answering = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        method, health = self._answering, self._health
        if method is None or health is None:  # (health is never None when method is set)
            super().on_message_complete()
            return
        self._answering = None
        body = health.body()
        self.transport.write(
            b"%scontent-length: %d\r\n\r\n%s"
            % (self._response_head(), len(body), b"" if method == b"HEAD" else body)
        )
        # What the end of an ASGI response does: count it, resume reading if paused, start a
        # pipelined request or arm the keep-alive timeout.
        self.on_response_complete()

    # ---- helpers ---------------------------------------------------------------------------

    def _queue_ordinary(self, app: ASGIApp) -> None:
        """Hand this request to uvicorn's ordinary path, served by `app` instead of the app: it
        runs now or after the requests in flight, like any other request on the connection."""
        served, self.app = self.app, app
        try:
            super().on_headers_complete()
        finally:
            self.app = served

    def _response_head(self) -> bytes:
        """Status line and headers: uvicorn's defaults (date, server) and the health headers."""
        defaults = self.server_state.default_headers
        rendered_for, head = HealthFirstProtocol._head_of
        if defaults is not rendered_for:
            lines = [b"%s: %s\r\n" % pair for pair in (*defaults, *HealthEndpoint.HEADERS)]
            head = _STATUS_LINE + b"".join(lines)
            HealthFirstProtocol._head_of = (defaults, head)
        return head
