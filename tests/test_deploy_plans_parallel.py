"""The plans before the one confirmation are computed side by side, on moto over HTTP: each
stack's block (its header, change set and review) is written whole, in the manifest's order,
however the computations interleave; the first plan that fails stops everything before any
execution, and the plans made meanwhile are deleted.

moto computes a change set within its CreateChangeSet call, where AWS takes seconds: a relay
in front of it (local_proxy.Relay) holds test-a's CreateChangeSet for a while and records each
call's window, which makes the overlap observable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import test_deploy_support as support

import deploy
from local_proxy import CLOUDFORMATION_ERROR, Relay, Reply, Request

HOLD = 1.0  # seconds test-a's CreateChangeSet is held


@dataclass
class Calls:
    """What the relay saw of CreateChangeSet (each stack's window) and ExecuteChangeSet."""

    refuse: set[str] = field(default_factory=set)  # stacks whose template AWS refuses
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def intercept(self, request: Request) -> Reply | None:
        if not request.is_cloudformation:
            return None
        if request.action() == "ExecuteChangeSet":
            with self.lock:
                self.executed.append(request.form()["ChangeSetName"][0])
            return None
        if request.action() != "CreateChangeSet":
            return None
        stack = request.form()["StackName"][0]
        if stack in self.refuse:
            # Stands in for a template CloudFormation refuses: moto's server answers an invalid
            # template with a 500 and a traceback; AWS answers a ValidationError so.
            body = CLOUDFORMATION_ERROR.format(
                code="ValidationError",
                message="Template format error: Unresolved resource dependencies [Nowhere]",
                request_id="plans-test",
            )
            return Reply(400, body.encode(), [("Content-Type", "text/xml")])
        start = time.monotonic()
        if stack == "test-a":
            time.sleep(HOLD)
        with self.lock:
            self.windows[stack] = (start, time.monotonic())
        return None  # now moto makes it


@pytest.fixture
def calls(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    with Relay(aws["AWS_ENDPOINT_URL"], seen.intercept, name="plans") as relay:
        monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
        yield seen


def run(
    build: Path, capsys: pytest.CaptureFixture[str], *args: str, verb: str = "deploy"
) -> tuple[int, list[str]]:
    code = deploy.main([verb, "--env", support.ENV, "--build-dir", str(build), "--yes", *args])
    return code, capsys.readouterr().out.splitlines()


def headers(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("== ")]


def test_plans_are_computed_side_by_side_each_written_whole_in_the_manifests_order(
    calls: Calls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks: dict[str, tuple[str, ...]] = {"a": (), "b": (), "c": ()}
    code, lines = run(support.write_graph(tmp_path / "local", stacks), capsys)
    assert code == 0, "\n".join(lines)
    a, b, c = (calls.windows[f"test-{key}"] for key in "abc")
    assert b[0] < a[1] and c[0] < a[1], calls.windows  # not one after the other
    assert headers(lines) == ["== test-a", "== test-b", "== test-c"]
    first = lines.index("== test-a")
    execution = next(i for i, line in enumerate(lines) if line.startswith("["))
    for key, after in (("a", "b"), ("b", "c"), ("c", None)):
        start = lines.index(f"== test-{key}")
        end = lines.index(f"== test-{after}") if after else execution
        block = lines[start:end]
        assert any("change set deploy-" in line and "(CREATE) created" in line for line in block)
        assert any(f"test-{key}" in line for line in block[1:]), block  # its own review
        others = [f"test-{k}" for k in "abc" if k != key]
        assert not any(other in line for line in block for other in others), block
    assert first < execution  # every plan shown before anything ran


def test_a_plan_that_fails_stops_everything_before_any_execution(
    calls: Calls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """test-b's template is refused while test-a's plan is still computed and test-c's is
    made: nothing executes, and test-c's plan, never shown, is deleted with its empty stack."""
    calls.refuse = {"test-b"}
    stacks: dict[str, tuple[str, ...]] = {"a": (), "b": (), "c": ()}
    code, lines = run(support.write_graph(tmp_path / "local", stacks), capsys)
    assert code == deploy.EXIT_ERROR
    assert calls.executed == []
    assert headers(lines) == ["== test-a", "== test-b"], lines
    assert any("Unresolved resource dependencies [Nowhere]" in line for line in lines), lines
    assert "  test-c: change set " in "\n".join(lines)  # said deleted
    cf = boto3.client("cloudformation")
    live = {s["StackName"] for s in cf.list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"}  # fmt: skip
    assert "test-c" not in live, live


def test_a_plan_computes_every_stacks_side_by_side_a_dependant_after_its_upstream(
    calls: Calls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """make plan: a, b and c at once; d reads a's output, so its plan (which says it waits
    for a to be created) comes once a's is done, and is written after c's."""
    stacks: dict[str, tuple[str, ...]] = {"a": (), "b": (), "c": (), "d": ("a",)}
    code, lines = run(support.write_graph(tmp_path / "local", stacks), capsys, verb="plan")
    assert code == deploy.EXIT_CHANGES, "\n".join(lines)
    a, b = calls.windows["test-a"], calls.windows["test-b"]
    assert b[0] < a[1], calls.windows
    assert "test-d" not in calls.windows  # waits for test-a to exist: not planned
    assert headers(lines) == ["== test-a", "== test-b", "== test-c", "== test-d"]
    d = lines[lines.index("== test-d") :]
    assert d[1] == "  waits for test-a to be created: planned once it exists", d
    summary = [line for line in lines if line.startswith("test-")]
    assert summary == [
        "test-a: changes",
        "test-b: changes",
        "test-c: changes",
        "test-d: pending upstream (waits for test-a to be created)",
    ]
