"""The deploy over the stacks' dependency graph, on moto over HTTP: independent stacks run side
by side, at most --concurrency at a time, a stack only after those it depends on; a stack that
fails stops neither those running nor those that do not depend on it.

moto executes a change set within its ExecuteChangeSet call, so a stack's operation takes no
time there: a relay in front of it (local_proxy.Relay) holds each ExecuteChangeSet for a while
and records when, which makes the overlap (or its absence) observable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

import deploy as deploy_py
from local_proxy import CLOUDFORMATION_ERROR, Relay, Reply, Request

HOLD = 0.6  # seconds each ExecuteChangeSet is held before moto executes it


@dataclass
class Executions:
    """What the relay saw of ExecuteChangeSet: each stack's window, the most at once."""

    endpoint: str
    fail: set[str] = field(default_factory=set)  # stacks whose execution AWS refuses
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    at_once: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def intercept(self, request: Request) -> Reply | None:
        if not request.is_cloudformation or request.action() != "ExecuteChangeSet":
            return None
        arn = request.form()["ChangeSetName"][0]
        cf = boto3.client("cloudformation", endpoint_url=self.endpoint)
        stack = cf.describe_change_set(ChangeSetName=arn)["StackName"]
        if stack in self.fail:
            # Stands in for a stack whose execution fails on AWS: moto creates every resource
            # of these templates, and cannot be made to fail one stack's operation. AWS refuses
            # an ExecuteChangeSet so (e.g. the stack changed after the change set was made).
            body = CLOUDFORMATION_ERROR.format(
                code="InvalidChangeSetStatus",
                message=f"ChangeSet [{arn}] cannot be executed in its current status",
                request_id="graph-test",
            )
            return Reply(400, body.encode(), [("Content-Type", "text/xml")])
        with self.lock:
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
        start = time.monotonic()
        time.sleep(HOLD)
        with self.lock:
            self.at_once -= 1
            self.windows[stack] = (start, time.monotonic())
        return None  # now moto executes it


@pytest.fixture
def executions(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Executions]:
    seen = Executions(aws["AWS_ENDPOINT_URL"])
    with Relay(aws["AWS_ENDPOINT_URL"], seen.intercept, name="hold") as relay:
        monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
        yield seen


def deploy(
    build_dir: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, dict[str, Any]]:
    code = deploy_py.main(
        ["--env", "local", "--build-dir", str(build_dir), "--yes", "--output", "json", *args]
    )
    captured = capsys.readouterr()
    return code, captured.err, json.loads(captured.out)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_independent_stacks_run_side_by_side_and_a_dependant_after_its_upstream(
    executions: Executions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = {"a": (), "b": (), "c": (), "d": ("a",)}
    code, log, document = deploy(support.write_graph(tmp_path / "local", stacks), capsys)
    assert code == 0, log
    windows = executions.windows
    assert overlap(windows["test-a"], windows["test-b"])
    assert overlap(windows["test-b"], windows["test-c"])
    assert windows["test-d"][0] >= windows["test-a"][1]  # d reads a's output: after it
    assert [s["outcome"] for s in document["stacks"]] == ["created"] * 4
    assert [s["key"] for s in document["stacks"]] == ["a", "b", "c", "d"]  # manifest order
    assert "[b] " in log and "[d] " in log  # not a terminal: each line names its stack


def test_concurrency_bounds_how_many_run_at_once(
    executions: Executions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = {"a": (), "b": (), "c": (), "d": (), "e": ()}
    code, log, _ = deploy(
        support.write_graph(tmp_path / "local", stacks), capsys, "--concurrency", "2"
    )
    assert code == 0, log
    assert executions.most_at_once == 2


def test_concurrency_1_runs_one_stack_after_the_other(
    executions: Executions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, log, _ = deploy(
        support.write_graph(tmp_path / "local", {"a": (), "b": ()}), capsys, "--concurrency", "1"
    )
    assert code == 0, log
    assert executions.most_at_once == 1
    assert not overlap(executions.windows["test-a"], executions.windows["test-b"])


def test_a_failing_stack_stops_only_its_dependants(
    executions: Executions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    executions.fail = {"test-a"}
    stacks = {"a": (), "b": (), "c": ("a",), "d": ("b",)}
    code, log, document = deploy(support.write_graph(tmp_path / "local", stacks), capsys)
    assert code == 1
    outcomes = {s["key"]: (s["outcome"], s["note"]) for s in document["stacks"]}
    assert outcomes["a"][0] == "failed"
    assert "not executed" in outcomes["a"][1]
    assert any("InvalidChangeSetStatus" in line for line in document["report"])  # why
    assert outcomes["b"] == ("created", "")
    assert outcomes["c"][0] == "skipped"
    assert "a did not deploy" in outcomes["c"][1]
    assert outcomes["d"] == ("created", "")  # b's dependant went on
    assert "1 of 4 stack(s) failed: a" in document["error"]
    cf = boto3.client("cloudformation")
    assert cf.describe_stacks(StackName="test-d")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    table = log[log.rindex("test-a: failed") :]  # the end: every stack and its outcome
    for line in ("test-b: created", "test-c: skipped", "test-d: created"):
        assert line in table
