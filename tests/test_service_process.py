"""The service in a real uvicorn process, started exactly as the Dockerfile's CMD starts it
(see tests/service_process.py): `/` and `/_health` over HTTP, no leaks, graceful SIGTERM.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error

import pytest

from service.contract import HEALTH_PATH
from tests.service_process import SECRET, get, running


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


def test_a_request_longer_than_the_graceful_timeout_does_not_hold_the_stop() -> None:
    # Same command, graceful timeout 1 s instead of 20 (click keeps an option's last value).
    args = ("--timeout-graceful-shutdown", "1")
    with running("tests.service_slow_app:app", extra_args=args) as service:
        result: dict[str, object] = {}

        def slow_request() -> None:
            try:
                result["response"] = get(service.base_url + "/slow?seconds=60")
            except OSError as error:  # the connection is cut: that is the point
                result["error"] = error

        client = threading.Thread(target=slow_request, daemon=True)
        client.start()
        service.wait_for_line("slow request started")
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        returncode = service.process.wait(timeout=15)
        stopped_after = time.monotonic() - signalled
        output = service.remaining_output()

    assert returncode == 0
    assert stopped_after < 10  # well before ECS's SIGKILL; the request alone would take 60 s
    assert any("timeout graceful shutdown exceeded" in line for line in output)
