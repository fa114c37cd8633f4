"""service/protocol.py over real sockets: the health answer given by the protocol itself, and
every case that must fall through to uvicorn's ordinary (ASGI) path. Malformed requests, Host
and timeouts: tests/test_service_protocol_hardening.py.
"""

from __future__ import annotations

import json
import signal
import socket
import time

from service.app import ServiceApp, create_app
from service.contract import HEALTH_PATH
from service.protocol import find_health
from service.settings import load_settings
from tests.service_process import running

GET_HEALTH = f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def read_response(
    sock: socket.socket, buffer: bytearray, *, head: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a content-length body (none after HEAD); `buffer` keeps what
    follows it."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        buffer += chunk
    response_head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = response_head.decode().split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"duplicate header {name}"
        headers[name.lower()] = value.strip()
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    buffer[:] = rest[length:]
    return int(status_line.split()[1]), headers, rest[:length]


def connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def is_closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_find_health_unwraps_uvicorn_middleware() -> None:
    app = create_app(load_settings({}))

    class Wrapper:
        def __init__(self, inner: object) -> None:
            self.app = inner

    assert isinstance(app, ServiceApp)
    assert find_health(Wrapper(Wrapper(app))) is app.health
    assert find_health(object()) is None


def test_health_answers_on_a_kept_alive_connection_like_the_asgi_path() -> None:
    with running() as service:
        sock = connect(service.base_url)
        buffer = bytearray()
        answers = []
        for _ in range(3):
            sock.sendall(GET_HEALTH)
            answers.append(read_response(sock, buffer))
        # A query string goes through ASGI: the same headers and body shape.
        sock.sendall(f"GET {HEALTH_PATH}?probe=1 HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        through_asgi = read_response(sock, buffer)
        # HEAD is answered here too, with what the ASGI path answers to it: the same headers.
        sock.sendall(f"HEAD {HEALTH_PATH} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        head_status, head_headers, head_body = read_response(sock, buffer, head=True)
        sock.sendall(f"HEAD {HEALTH_PATH}?probe=1 HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        _, asgi_head_headers, _ = read_response(sock, buffer, head=True)
        sock.close()

    for status, headers, body in [*answers, through_asgi]:
        assert status == 200
        assert set(headers) == {"date", "content-type", "cache-control", "content-length"}
        assert headers["content-type"] == "application/json"
        assert headers["cache-control"] == "no-store"
        document = json.loads(body)
        assert set(document) == {"status", "version", "uptime"}
        assert (document["status"], document["version"]) == ("ok", "proc1234")
    assert set(answers[0][1]) == set(through_asgi[1])
    uptimes = [json.loads(body)["uptime"] for _, _, body in answers]
    assert uptimes == sorted(uptimes)
    assert (head_status, head_body) == (200, b"")
    assert head_headers["content-type"] == "application/json"
    assert list(head_headers) == list(asgi_head_headers)  # the same fields, in the same order
    for name in ("content-type", "cache-control"):
        assert head_headers[name] == asgi_head_headers[name]
    # The length of the body a GET would get (the uptime may have gained a digit since).
    for headers in (head_headers, asgi_head_headers):
        assert abs(int(headers["content-length"]) - len(answers[-1][2])) <= 1


def test_pipelined_requests_are_answered_in_order() -> None:
    with running("tests.service_slow_app:app") as service:
        sock = connect(service.base_url)
        slow = b"GET /slow?seconds=0.3 HTTP/1.1\r\nHost: test\r\n\r\n"
        sock.sendall(GET_HEALTH + slow + GET_HEALTH + GET_HEALTH)
        buffer = bytearray()
        bodies = [read_response(sock, buffer)[2] for _ in range(4)]
        sock.close()
    assert json.loads(bodies[0])["status"] == "ok"
    assert bodies[1] == b"slept 0.3"
    assert [json.loads(body)["status"] for body in bodies[2:]] == ["ok", "ok"]


def test_other_methods_and_connection_close_take_the_ordinary_way() -> None:
    with running() as service:
        sock = connect(service.base_url)
        sock.sendall(
            f"POST {HEALTH_PATH} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi".encode()
        )
        assert read_response(sock, bytearray())[0] == 405
        sock.close()

        # A health check with a (well-formed) body: one answer, and the connection serves on.
        sock = connect(service.base_url)
        buffer = bytearray()
        chunked = "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        sock.sendall(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: t\r\n{chunked}".encode() + GET_HEALTH)
        assert [read_response(sock, buffer)[0] for _ in range(2)] == [200, 200]
        assert not buffer
        sock.close()

        sock = connect(service.base_url)
        sock.sendall(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        status, headers, _ = read_response(sock, bytearray())
        assert (status, headers.get("connection")) == (200, "close")
        assert is_closed_by_server(sock, within=10)
        sock.close()

        sock = connect(service.base_url)
        sock.sendall(f"GET {HEALTH_PATH} HTTP/1.0\r\n\r\n".encode())
        assert read_response(sock, bytearray())[0] == 200
        assert is_closed_by_server(sock, within=10)
        sock.close()


def test_keep_alive_timeout_still_closes_idle_connections() -> None:
    with running(extra_args=("--timeout-keep-alive", "1")) as service:
        sock = connect(service.base_url)
        sock.sendall(GET_HEALTH)
        assert read_response(sock, bytearray())[0] == 200
        started = time.monotonic()
        assert is_closed_by_server(sock, within=10)
        assert 0.5 < time.monotonic() - started < 8
        sock.close()


def test_sigterm_closes_idle_kept_alive_connections_and_exits_zero() -> None:
    with running() as service:
        sock = connect(service.base_url)
        sock.sendall(GET_HEALTH)
        assert read_response(sock, bytearray())[0] == 200
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        assert is_closed_by_server(sock, within=10)
        assert service.process.wait(timeout=10) == 0
        assert time.monotonic() - signalled < 10  # not the 20 s graceful timeout
        sock.close()
