"""service/protocol.py over real sockets, the service started as `make run` starts it: one
response per request, every connection reaped, and RFC 9112's Host rule, on both paths (the
protocol's own /_health answer and uvicorn's ordinary ASGI way).

The shared service runs with short timeouts (keep-alive 1 s, HEADER_TIMEOUT 1 s) so that a
connection the server should close is seen closing within seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from service.contract import HEALTH_PATH
from service.settings import load_settings
from tests.service_process import Service, running

TIMEOUT = 1.0  # both --timeout-keep-alive and HEADER_TIMEOUT of the shared service
# How long to wait for a close that should come after TIMEOUT: generous, for a busy machine.
PATIENCE = 6.0
HEALTH = HEALTH_PATH.encode()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Exchange:
    responses: list[Response]
    closed_after: float | None  # seconds from the send until the server closed; None: still open

    @property
    def statuses(self) -> list[int]:
        return [response.status for response in self.responses]


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    extra_args = ("--timeout-keep-alive", str(int(TIMEOUT)))
    with running(extra_args=extra_args, environ={"HEADER_TIMEOUT": str(TIMEOUT)}) as service:
        yield service


def connect(service: Service) -> socket.socket:
    host, port = service.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def parse_responses(data: bytes, *, to_head: bool = False) -> list[Response]:
    """Every response in `data`, in order; each body is content-length long (none: empty), or
    empty whatever the content-length in answers to HEAD."""
    responses = []
    while data:
        head, separator, data = data.partition(b"\r\n\r\n")
        assert separator, f"an incomplete response: {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = (line.partition(":") for line in lines)
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        length = 0 if to_head else int(headers.get("content-length", "0"))
        assert len(data) >= length, f"a body cut short: {data!r}"
        responses.append(Response(int(status_line.split()[1]), headers, data[:length]))
        data = data[length:]
    return responses


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float | None]:
    """All the server sends until it closes the connection or `within` seconds pass."""
    started = time.monotonic()
    received = b""
    while (left := within - (time.monotonic() - started)) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, None


def read_one_response(sock: socket.socket) -> Response:
    """The next response on a kept-alive connection (nothing follows it yet)."""
    received = b""
    while True:
        head, separator, body = received.partition(b"\r\n\r\n")
        if separator and b"content-length" in head:
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(body) >= length:
                (response,) = parse_responses(received)
                return response
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole response: {received!r}"
        received += chunk


def exchange(service: Service, data: bytes, within: float = PATIENCE) -> Exchange:
    """Send `data` on a new connection; what comes back until the server closes it (or not)."""
    with connect(service) as sock:
        sock.sendall(data)
        received, closed_after = read_until_closed(sock, within)
    return Exchange(parse_responses(received, to_head=data.startswith(b"HEAD ")), closed_after)


def health_request(*headers: str, body: bytes = b"", method: str = "GET") -> bytes:
    lines = "".join(f"{header}\r\n" for header in headers)
    return f"{method} {HEALTH_PATH} HTTP/1.1\r\n{lines}\r\n".encode() + body


# ---- one request, one response ------------------------------------------------------------

MALFORMED_BODIES = {
    "bad chunk size": health_request(
        "Host: t", "Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"
    ),
    "bare LF after the chunk size": health_request(
        "Host: t", "Transfer-Encoding: chunked", body=b"5\nhello\r\n0\r\n\r\n"
    ),
    "Transfer-Encoding: gzip": health_request("Host: t", "Transfer-Encoding: gzip"),
    "Transfer-Encoding: identity": health_request("Host: t", "Transfer-Encoding: identity"),
}


@pytest.mark.parametrize("request_bytes", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES)
def test_a_health_check_with_a_body_the_parser_rejects_gets_one_answer_a_400(
    service: Service, request_bytes: bytes
) -> None:
    result = exchange(service, request_bytes)
    assert result.statuses == [400]  # not 200 and then 400: a proxy would shift every answer
    assert result.responses[0].headers["connection"] == "close"
    assert result.closed_after is not None and result.closed_after < PATIENCE


# ---- every connection reaped ---------------------------------------------------------------

UNSENT_BODIES = {
    "declared, never sent": health_request("Host: t", "Content-Length: 10"),
    "partly sent": health_request("Host: t", "Content-Length: 10", body=b"abc"),
    "waiting on 100-continue": health_request(
        "Host: t", "Content-Length: 10", "Expect: 100-continue"
    ),
}


@pytest.mark.parametrize("request_bytes", UNSENT_BODIES.values(), ids=UNSENT_BODIES)
def test_a_health_check_whose_body_never_comes_is_answered_then_closed_when_idle(
    service: Service, request_bytes: bytes
) -> None:
    result = exchange(service, request_bytes)
    assert result.statuses == [200]
    # Closed by the keep-alive timeout, as after any answer: not at once, and not never.
    assert result.closed_after is not None
    assert TIMEOUT / 2 < result.closed_after < PATIENCE


def test_a_client_that_connects_and_sends_nothing_is_disconnected(service: Service) -> None:
    result = exchange(service, b"")
    assert result.statuses == []
    assert result.closed_after is not None
    assert TIMEOUT / 2 < result.closed_after < PATIENCE


STALLED_HEADERS = {
    "health, inside its headers": health_request("Host: t").removesuffix(b"\r\n"),
    "health, inside its request line": b"GET " + HEALTH,
    "another path (the ASGI way)": b"GET / HTTP/1.1\r\nHost: t\r\nAccept: text/",
}


@pytest.mark.parametrize("partial", STALLED_HEADERS.values(), ids=STALLED_HEADERS)
def test_a_client_stalled_in_its_headers_is_disconnected(service: Service, partial: bytes) -> None:
    result = exchange(service, partial)
    assert result.statuses == []
    assert result.closed_after is not None
    assert TIMEOUT / 2 < result.closed_after < PATIENCE


def test_a_kept_alive_client_stalled_in_its_next_request_is_disconnected(
    service: Service,
) -> None:
    with connect(service) as sock:
        sock.sendall(health_request("Host: t"))
        assert read_one_response(sock).status == 200
        sock.sendall(b"GET " + HEALTH + b" HTTP/1.1\r\nHo")
        rest, closed_after = read_until_closed(sock, PATIENCE)
    assert rest == b""
    assert closed_after is not None and closed_after < PATIENCE


def test_headers_trickled_in_are_cut_off_at_the_deadline_not_at_each_byte(
    service: Service,
) -> None:
    with connect(service) as sock:
        # Slow but within the deadline: answered.
        started = time.monotonic()
        for piece in (b"GET " + HEALTH, b" HTTP/1.1\r\nHost: t\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(TIMEOUT / 5)
        assert time.monotonic() - started < TIMEOUT
        assert read_one_response(sock).status == 200

        # One header byte every 0.1 s, forever: the connection is closed about TIMEOUT after
        # the first, though bytes keep coming.
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        sock.settimeout(TIMEOUT / 10)
        closed_after = None
        while time.monotonic() - started < PATIENCE:
            try:
                sock.sendall(b"a")
                if sock.recv(65536) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None
    assert TIMEOUT / 2 < closed_after < PATIENCE


def test_a_header_timeout_that_would_never_close_a_connection_is_refused() -> None:
    for value in ("0", "-1", "inf", "nan"):
        with pytest.raises(ValueError, match="HEADER_TIMEOUT"):
            load_settings({"HEADER_TIMEOUT": value})
    assert load_settings({"HEADER_TIMEOUT": "2.5"}).header_timeout == 2.5


# ---- RFC 9112 section 3.2: exactly one Host ------------------------------------------------

BAD_HOSTS = {
    "HTTP/1.1 /_health, no Host": health_request(),
    "HTTP/1.1 /_health, two Hosts": health_request("Host: a", "Host: b"),
    "HEAD /_health, no Host": health_request(method="HEAD"),
    "HTTP/1.1 / (the ASGI way), no Host": b"GET / HTTP/1.1\r\n\r\n",
    "HTTP/1.1 /_health?x (the ASGI way), two Hosts": b"GET /_health?x HTTP/1.1\r\n"
    b"Host: a\r\nHost: b\r\n\r\n",
    "HTTP/1.0, two Hosts": b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    "a body, no Host": b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
}


@pytest.mark.parametrize("request_bytes", BAD_HOSTS.values(), ids=BAD_HOSTS)
def test_a_request_without_exactly_one_host_is_refused_on_either_path(
    service: Service, request_bytes: bytes
) -> None:
    result = exchange(service, request_bytes)
    assert result.statuses == [400]
    if request_bytes.startswith(b"HEAD "):
        assert result.responses[0].body == b""  # no body after HEAD, not even a 400's
    else:
        assert b"Host" in result.responses[0].body
    assert result.responses[0].headers["connection"] == "close"
    assert result.closed_after is not None and result.closed_after < TIMEOUT


def test_a_refused_host_is_answered_in_its_turn_after_earlier_pipelined_requests() -> None:
    with running("tests.service_slow_app:app") as slow_service:
        slow = b"GET /slow?seconds=0.3 HTTP/1.1\r\nHost: t\r\n\r\n"
        after = health_request("Host: t")
        result = exchange(slow_service, slow + health_request() + after, within=3)
    # The slow answer first, then the 400, then nothing: the connection is closed.
    assert result.statuses == [200, 400]
    assert result.responses[0].body == b"slept 0.3"
    assert result.closed_after is not None
