"""The service in a real uvicorn process, started exactly as the Dockerfile's CMD starts it.

The command is read from the Dockerfile; the test changes only --port (a free one, so that tests
and a `make run` can coexist) and, for the SIGTERM test, the app module (the same app plus a
test-only slow route, tests/service_slow_app.py). It runs with .venv's python instead of the
image's `python`, from the repository root, which is the image's WORKDIR layout (/app/service).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.dockerfile import cmd, with_option
from service.contract import APP_MODULE, HEALTH_PATH

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-process-s3cr3t-41d2"
STARTUP_SECONDS = 20


@dataclass
class Service:
    process: subprocess.Popen[str]
    base_url: str
    lines: queue.Queue[str]
    reader: threading.Thread

    def remaining_output(self) -> list[str]:
        """Every line not consumed yet, once the process has exited and its stdout is drained."""
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        return list(self.lines.queue)

    def wait_for_line(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if text in line:
                return line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_command(port: int, app_module: str = APP_MODULE) -> list[str]:
    argv = cmd()
    assert argv[0] == "python"
    argv = [sys.executable, *argv[1:]]
    argv = with_option(argv, "--port", str(port))
    if app_module != APP_MODULE:
        argv[argv.index(APP_MODULE)] = app_module
    return argv


@contextmanager
def running(app_module: str = APP_MODULE) -> Iterator[Service]:
    port = free_port()
    env = {**os.environ, "APP_VERSION": "proc1234", "DATABASE_PASSWORD": SECRET}
    env.update({"AWS_SECRET_ACCESS_KEY": SECRET, "PYTHONDONTWRITEBYTECODE": "1"})
    process = subprocess.Popen(
        container_command(port, app_module),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.daemon = True
    reader.start()
    service = Service(process, f"http://127.0.0.1:{port}", lines, reader)
    try:
        service.wait_for_line("Uvicorn running on", timeout=STARTUP_SECONDS)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_container_command_serves_home_and_health_over_http() -> None:
    with running() as service:
        headers = {"X-Api-Key": SECRET}
        status, health_headers, health = get(service.base_url + HEALTH_PATH, headers)
        assert status == 200
        body = json.loads(health)
        assert set(body) == {"status", "version", "uptime"}
        assert body["status"] == "ok"
        assert body["version"] == "proc1234"

        status, home_headers, home = get(service.base_url + "/", headers)
        assert status == 200
        assert 'src="/static/logo.svg"' in home
        status, missing_headers, missing = get(service.base_url + "/nope", headers)
        assert status == 404
        for text in (health, home, missing):
            assert SECRET not in text
        for response_headers in (health_headers, home_headers, missing_headers):
            assert "server" not in {name.lower() for name in response_headers}  # --no-server-header
            assert SECRET not in json.dumps(response_headers)

        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=10) == 0
    logged = [
        json.loads(line) for line in service.remaining_output()
    ]  # every line on stdout is JSON
    assert [line["path"] for line in logged if line.get("logger") == "service.access"] == [
        "/",
        "/nope",
    ]


def test_sigterm_lets_the_in_flight_request_finish_then_exits_zero() -> None:
    with running("tests.service_slow_app:app") as service:
        result: dict[str, object] = {}

        def slow_request() -> None:
            result["response"] = get(service.base_url + "/slow?seconds=1.5")

        client = threading.Thread(target=slow_request)
        client.start()
        service.wait_for_line("slow request started")
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        service.wait_for_line("Waiting for connections to close")
        # The listening socket is closed at once: no new request starts during the drain.
        with pytest.raises(urllib.error.URLError):
            get(service.base_url + HEALTH_PATH)
        client.join(timeout=10)
        returncode = service.process.wait(timeout=10)
        stopped_after = time.monotonic() - signalled

    assert result["response"][0] == 200
    assert result["response"][2] == "slept 1.5"
    assert returncode == 0
    assert 1.0 < stopped_after < 10
