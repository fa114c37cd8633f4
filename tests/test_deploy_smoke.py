"""The smoke check against real HTTP servers on 127.0.0.1: one that answers the old version
for its first requests and then the new one, one that never gets healthy, one that only ever
serves the old version. Whether a server has switched is counted in requests, not time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deployer import smoke
from deployer.poll import Backoff

FAST = Backoff(first=0.01, cap=0.02, jitter=0.0)
Answer = tuple[int, bytes]


class Server:
    def __init__(self, answer: Callable[[int], Answer]) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, body = answer(len(server.requests))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def health(version: str) -> Answer:
    return 200, json.dumps({"status": "ok", "version": version, "uptime": 1.0}).encode()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[int], Answer]], Server]]:
    servers: list[Server] = []

    def start(answer: Callable[[int], Answer]) -> Server:
        servers.append(Server(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def run(server: Server, version: str, seconds: float, said: list[str]) -> smoke.Smoke:
    return smoke.check(
        smoke.health_url(server.url), version, FAST.deadline(seconds), said.append, FAST
    )


def test_passes_once_the_new_version_answers_after_the_old_one(serve) -> None:
    server = serve(lambda n: health("old111") if n <= 3 else health("new222"))
    said: list[str] = []
    result = run(server, "new222", 60, said)
    assert result.passed
    assert result.attempts == 4
    assert server.requests == ["/_health"] * 4
    assert said == [
        f"  smoke: {server.url}_health: HTTP 200 with version old111; waiting for version new222"
    ]
    assert result.line() == f"smoke: {server.url}_health answers version new222 (after 4 GET)"


def test_times_out_on_a_service_that_never_gets_healthy(serve) -> None:
    server = serve(lambda _n: (503, b"<html>Service Unavailable</html>"))
    result = run(server, "new222", 0.3, [])
    assert not result.passed
    assert len(server.requests) >= 2
    assert result.line() == (
        f"smoke: FAILED: {server.url}_health did not answer 200 with version new222; "
        "the last answer: HTTP 503 (not JSON)"
    )


def test_catches_the_old_version_still_serving_at_the_deadline(serve) -> None:
    server = serve(lambda _n: health("old111"))
    result = run(server, "new222", 0.3, [])
    assert not result.passed
    assert result.last == smoke.Answer(200, "old111")
    assert "the last answer: HTTP 200 with version old111" in result.line()


def test_a_server_that_is_not_there_is_named_as_no_answer(serve) -> None:
    server = serve(lambda _n: health("x"))
    server.close()
    result = run(server, "new222", 0.1, [])
    assert not result.passed
    assert result.last is not None and result.last.status is None
    assert "the last answer: no answer (" in result.line()


def test_an_emulated_aws_is_said_in_one_line_and_nothing_is_requested(serve) -> None:
    server = serve(lambda _n: health("new222"))
    said: list[str] = []
    result = smoke.smoke(server.url, "new222", "http://127.0.0.1:5050", 60, said.append)
    assert server.requests == [] and said == []
    assert result.line() == (
        "smoke: not run: AWS is emulated at http://127.0.0.1:5050: its load balancer serves "
        f"nothing, so {server.url}_health cannot be reached"
    )


@pytest.mark.parametrize(
    ("endpoint", "emulated"),
    [
        ("https://elasticloadbalancing.eu-west-1.amazonaws.com", False),
        ("https://elasticloadbalancing-fips.us-east-1.amazonaws.com", False),
        ("https://elasticloadbalancing.cn-north-1.amazonaws.com.cn", False),
        ("http://127.0.0.1:5050", True),
        ("http://localhost.localstack.cloud:4566", True),
    ],
)
def test_emulated_is_decided_from_the_endpoint(endpoint: str, emulated: bool) -> None:
    assert smoke.emulated(endpoint) is emulated


def test_health_url_is_the_service_url_and_the_health_path() -> None:
    assert smoke.health_url("https://app.example.com/") == "https://app.example.com/_health"
    assert smoke.health_url("https://app.example.com") == "https://app.example.com/_health"
