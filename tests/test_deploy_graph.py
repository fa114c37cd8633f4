"""The deploy over the stacks' dependency graph, on moto over HTTP: independent stacks run side
by side, at most --concurrency at a time, a stack only after those it depends on; a stack that
fails stops neither those running nor those that do not depend on it.

moto executes a change set within its ExecuteChangeSet call, so a stack's operation takes no
time there: a relay in front of it (local_proxy.Relay) holds each ExecuteChangeSet for a while
and records when, which makes the overlap (or its absence) observable.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

from deployer.graph import Node
from deployer.output import Output
from local_proxy import CLOUDFORMATION_ERROR, Relay, Reply, Request
from manifest import StackSpec

ROOT = Path(__file__).resolve().parent.parent
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
    return support.run_json(build_dir, capsys, "--yes", *args)


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


def test_ctrl_c_while_stacks_run_says_for_each_how_to_follow_or_cancel_it(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """deploy.py in its own process, two stacks held in ExecuteChangeSet (running, as far as
    the deploy knows), then SIGINT, as a terminal's Ctrl-C sends it."""
    build = support.write_graph(tmp_path / "local", {"a": (), "b": ()})
    executing = threading.Semaphore(0)

    def intercept(request: Request) -> Reply | None:
        if request.is_cloudformation and request.action() == "ExecuteChangeSet":
            executing.release()
            time.sleep(5)
        return None

    with Relay(aws["AWS_ENDPOINT_URL"], intercept, name="hold") as relay:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(aws, AWS_ENDPOINT_URL=relay.url)
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy.py"), "--env", "local", "--yes",
             "--build-dir", str(build)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(2):
                assert executing.acquire(timeout=60)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err
    for key in ("a", "b"):
        assert f"test-{key}: its create goes on in CloudFormation" in out
        assert f"make follow ENV=local STACK={key}" in out
        assert f"make cancel ENV=local STACK={key} (deletes the new stack)" in out


def test_lines_said_from_stacks_side_by_side_are_never_torn() -> None:
    """Output: every line whole and prefixed with its stack, however many threads say."""
    written: list[str] = []
    output = Output(written.append)

    def say_many(key: str) -> None:
        with output.stack(key):
            for i in range(200):
                output.say(f"line {i} of {key}\nits second line")

    threads = [threading.Thread(target=say_many, args=(k,)) for k in ("api", "web", "network")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = "\n".join(written).splitlines()
    assert len(lines) == 3 * 200 * 2
    for line in lines:
        assert re.fullmatch(r"\[(api|web|network)\] (line \d+ of \1|its second line)", line), line
    # each say's two lines stay together
    for first, second in itertools.pairwise(lines):
        if first.endswith(("of api", "of web", "of network")):
            assert second == first.split(" ")[0] + " its second line"


def test_a_terminal_keeps_one_redrawn_line_per_stack_below_the_lines() -> None:
    written: list[str] = []
    board = io.StringIO()
    output = Output(written.append)
    nodes = [Node(StackSpec(k, f"test-{k}", Path("x")), None) for k in ("api", "web")]
    nodes[0].state, nodes[0].started = "running", time.monotonic() - 65
    output.track(nodes, board)
    with output.stack("api"):
        output.say("CREATE_IN_PROGRESS Service")
    drawn = board.getvalue()
    assert "\x1b[2F\x1b[J" in drawn  # the board is erased before a line is written...
    last = drawn.rsplit("\x1b[J", 1)[1].splitlines()  # ...and redrawn below it
    assert re.fullmatch(r"  api  running \s+1:0\d  CREATE_IN_PROGRESS Service", last[0]), last
    assert re.fullmatch(r"  web  waiting\s*", last[1]), last
    assert written == ["[api] CREATE_IN_PROGRESS Service"]
