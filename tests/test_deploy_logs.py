"""make logs: the service's log lines read back from CloudWatch Logs on moto (events put there
as the app writes them: service/jsonlog.py's JSON lines), readable, then followed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

from deployer import logs

ROOT = Path(__file__).resolve().parent.parent
GROUP = "scalable-app-local-service-LogGroup-ABC"
STREAM = "app/web/0123"


def request_line(path: str, status: int, duration_ms: float) -> str:
    return json.dumps(
        {
            "time": "2026-12-06T20:30:00.000Z",
            "level": "INFO",
            "logger": "service.access",
            "message": "request",
            "method": "GET",
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "_aws": {"Timestamp": 1, "CloudWatchMetrics": []},
        }
    )


@pytest.fixture
def client(aws: dict[str, str]) -> Any:
    found = boto3.client("logs")
    found.create_log_group(logGroupName=GROUP)
    found.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    return found


def put(client: Any, *messages: str, at: int | None = None) -> None:
    now = at or int(time.time() * 1000)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName=STREAM,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def test_request_lines_read_as_method_path_status_and_duration(client: Any) -> None:
    startup = json.dumps(
        {"time": "2026-12-06T20:29:59.000Z", "level": "INFO", "logger": "uvicorn.error",
         "message": "Application startup complete."}
    )  # fmt: skip
    put(client, startup, request_line("/_health", 200, 0.4), "not JSON at all")
    said: list[str] = []
    seen = logs.show(client, [GROUP], 600, said.append)
    assert len(seen) == 3
    assert said[0] == "2026-12-06T20:29:59.000Z INFO uvicorn.error: Application startup complete."
    assert said[1] == "2026-12-06T20:30:00.000Z GET /_health 200 0.4 ms"
    assert said[2].endswith("Z not JSON at all")
    assert all("_aws" not in line for line in said)  # the EMF block is not for reading


def test_since_leaves_older_events_out(client: Any) -> None:
    put(client, request_line("/old", 200, 1), at=int((time.time() - 3600) * 1000))
    put(client, request_line("/new", 200, 1))
    said: list[str] = []
    logs.show(client, [GROUP], logs.since_seconds("10m"), said.append)
    assert [line.split()[2] for line in said] == ["/new"]


def test_follow_polls_where_there_is_no_live_tail_and_shows_each_event_once(client: Any) -> None:
    """moto has no StartLiveTail (its streaming host does not answer): FilterLogEvents polling,
    said once, each new event shown once."""
    put(client, request_line("/first", 200, 1))
    said: list[str] = []
    seen = logs.show(client, [GROUP], 600, said.append)

    def sleep(_seconds: float) -> None:  # between two polls, the app logs one more request
        put(client, request_line(f"/then-{len(said)}", 503, 2))

    logs.follow(client, [GROUP], seen, said.append, sleep=sleep, rounds=2)
    assert any("polling FilterLogEvents" in line for line in said)
    paths = [line.split()[2] for line in said if " GET " in line]
    assert paths[0] == "/first" and len(paths) == 3 and len(set(paths)) == 3


@pytest.mark.parametrize("text", ["10", "ten minutes", "5w", "-1m"])
def test_a_since_that_is_not_a_duration_is_refused_with_the_forms_taken(text: str) -> None:
    with pytest.raises(logs.LogsError, match="SINCE=10m, SINCE=2h"):
        logs.since_seconds(text)


def test_the_log_groups_are_the_stacks_own() -> None:
    template = {
        "Resources": {
            "LogGroup": {"Type": "AWS::Logs::LogGroup"},
            "Topic": {"Type": "AWS::SNS::Topic"},
        }
    }
    assert logs.log_groups(template, {"LogGroup": GROUP, "Topic": "arn:..."}) == [GROUP]


def test_logs_before_the_service_is_deployed_say_so_without_a_traceback(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local")
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy.py"), "logs", "--env", "local", "--build-dir",
         str(build)],
        env=child_env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "test-service has no log group deployed: make deploy ENV=local first" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
