"""An HTTP relay in front of the local emulator (moto's server), with a hook that may answer a
request itself instead of forwarding it.

The emulator lacks some of AWS's behaviour (../shared/EMULATOR.md); what it lacks is added in
front of it, over HTTP, never inside moto: local_conformance.py answers as AWS does where moto
accepts what AWS refuses (every local deploy and the tests go through it), and
tests/throttle_proxy.py answers CloudFormation calls with AWS's throttling error.

    def intercept(request: Request) -> Reply | None: ...   # None: forward it
    def rewrite(request: Request, status: int, body: bytes) -> bytes: ...  # the answer passed on
    with Relay("http://127.0.0.1:5050", intercept, rewrite=rewrite) as relay:
        ...  # AWS_ENDPOINT_URL=relay.url

Stdlib only: it must run wherever moto does, with nothing else installed.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

# SigV4's Authorization header names the service in its credential scope:
# Credential=AKID/20240101/us-east-1/cloudformation/aws4_request, SignedHeaders=...
CLOUDFORMATION_SCOPE = "/cloudformation/aws4_request"
# What CloudFormation's query protocol answers an error with (AWS's shape, as botocore parses it).
CLOUDFORMATION_ERROR = (
    '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
    "<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
# Headers about this one connection, not the message: never passed on (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class Request:
    command: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def is_cloudformation(self) -> bool:
        return CLOUDFORMATION_SCOPE in self.headers.get("authorization", "")

    def form(self) -> dict[str, list[str]]:
        """The query protocol's parameters (Action=DescribeStacks&...)."""
        return parse_qs(self.body.decode("utf-8", errors="replace"))

    def action(self) -> str:
        """The query protocol's action, or "?" when there is none."""
        return self.form().get("Action", ["?"])[0]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


Intercept = Callable[[Request], "Reply | None"]
# What the upstream answered a forwarded request (status, body) -> the body passed on.
Rewrite = Callable[[Request, int, bytes], bytes]


def forward_all(_request: Request) -> Reply | None:
    return None


def as_answered(_request: Request, _status: int, body: bytes) -> bytes:
    return body


class _Handler(BaseHTTPRequestHandler):
    """Relays one request at a time on a kept-alive connection, as botocore's pool expects."""

    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries its Content-Length
    server: _Server

    def do_GET(self) -> None:
        self._relay()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _relay(self) -> None:
        body = self._read_body()
        request = Request(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        reply = self.server.intercept(request)
        if reply is not None:
            self._send(reply.status, reply.headers, reply.body)
            return
        try:
            status, headers, answer = self._forward(body)
        except (OSError, http.client.HTTPException) as error:  # say so rather than hang up
            message = f"local proxy: upstream {self.server.upstream} failed: {error}\n"
            self._send(502, [("Content-Type", "text/plain")], message.encode())
            return
        self._send(status, headers, self.server.rewrite(request, status, answer))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(parts)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """The same method, path, headers (Host included: what the client signed, and what
        moto builds URLs from) and body, to the upstream; its status, headers and body."""
        host, port = self.server.upstream_address
        connection = http.client.HTTPConnection(host, port, timeout=120)
        try:
            connection.putrequest(
                self.command, self.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, headers, answer
        finally:
            connection.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in {"content-length", "server", "date"}:
                self.send_header(name, value)
        # HEAD: the length the GET would have had, and no body
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        self.send_header(
            "Content-Length", length if self.command == "HEAD" and length else str(len(body))
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # an access log would bury what matters: what the hook answered


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps its connection open must not block shutdown
    block_on_close = False

    def __init__(self, port: int, upstream: str, intercept: Intercept, rewrite: Rewrite):
        super().__init__(("127.0.0.1", port), _Handler)
        self.rewrite = rewrite
        self.upstream = upstream
        parts = urlsplit(upstream)
        self.upstream_address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.intercept = intercept


class Relay:
    """The relay on 127.0.0.1 (port 0: a free one), serving from a thread while in `with`."""

    def __init__(
        self,
        upstream: str,
        intercept: Intercept = forward_all,
        port: int = 0,
        name: str = "relay",
        rewrite: Rewrite = as_answered,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self._server = _Server(port, self.upstream, intercept, rewrite)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
