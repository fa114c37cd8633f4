"""make destroy (deploy.py destroy): the review, the environment's name typed (a wrong one
deletes nothing), then every stack deleted in reverse dependency order; --service deletes only
that service's stacks, an orphan's too. On moto over HTTP, in-process; the person at the
terminal is a stdin that says it is one."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

from deployer import destroy
from local_proxy import Relay, Reply, Request

STACKS = {"network": (), "svc-api": ("network",), "svc-web": ("network",)}
SERVICES = {"svc-api": "api", "svc-web": "web"}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def deletes(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stacks DeleteStack was called on, in order."""
    seen: list[str] = []

    def intercept(request: Request) -> Reply | None:
        if request.is_cloudformation and request.action() == "DeleteStack":
            stack_id = request.form()["StackName"][0]
            seen.append(stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id)
        return None

    with Relay(aws["AWS_ENDPOINT_URL"], intercept, name="deletes") as relay:
        monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
        yield seen


run = support.run_json


def deployed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    build = support.write_graph(tmp_path / "local", STACKS, SERVICES)
    code, log, _ = run(build, capsys, "--yes")
    assert code == 0, log
    return build


def live() -> set[str]:
    summaries = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    return {s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"}


def typed(answer: str, tmp_path: Path, capsys: Any, monkeypatch: Any) -> Any:
    """Deploy the stacks, then destroy them, `answer` typed at the terminal."""
    build = deployed(tmp_path, capsys)
    monkeypatch.setattr("sys.stdin", Terminal(f"{answer}\n"))
    return run(build, capsys, "destroy")


def test_a_wrong_name_deletes_nothing(
    deletes: list[str], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, log, document = typed("staging", tmp_path, capsys, monkeypatch)
    assert code == 1
    assert "Type the environment's name (local)" in log
    assert "typed 'staging', not 'local': nothing deleted" in document["error"]
    assert "test-svc-web (CREATE_COMPLETE): to be deleted" in log  # the review came first
    assert "deletes AWS::SSM::Parameter Parameter /test/network" in log
    assert deletes == []
    assert live() == {"test-network", "test-svc-api", "test-svc-web"}


def test_the_name_deletes_every_stack_in_reverse_dependency_order(
    deletes: list[str], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, log, document = typed("local", tmp_path, capsys, monkeypatch)
    assert code == 0, log
    assert deletes == ["test-svc-web", "test-svc-api", "test-network"]
    assert [s["outcome"] for s in document["stacks"]] == ["deleted"] * 3
    assert live() == set()


def test_without_a_terminal_and_without_yes_nothing_is_deleted(
    deletes: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = deployed(tmp_path, capsys)
    code, _, document = run(build, capsys, "destroy")  # pytest's stdin is no terminal
    assert code == 1
    assert "nobody can type the environment's name" in document["error"]
    assert deletes == []


def test_destroy_service_deletes_an_orphan_only(
    deletes: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed(tmp_path, capsys)
    without_web = {k: v for k, v in STACKS.items() if k != "svc-web"}
    build = support.write_graph(tmp_path / "v2", without_web, SERVICES)
    code, log, document = run(build, capsys, "destroy", "--service", "web", "--yes")
    assert code == 0, log
    assert deletes == ["test-svc-web"]
    assert live() == {"test-network", "test-svc-api"}
    code, _, document = run(build, capsys, "destroy", "--service", "db", "--yes")
    assert code == 1
    assert "its services are api" in document["error"]


def test_termination_protection_is_explained_not_lifted(
    deletes: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build = support.write_graph(tmp_path / "local", STACKS, SERVICES)
    # moto has no UpdateTerminationProtection (a 500): a stack created with it on stands in
    boto3.client("cloudformation").create_stack(
        StackName="test-network",
        TemplateBody=(build / "network.json").read_text(),
        EnableTerminationProtection=True,
    )
    code, _, document = run(build, capsys, "destroy", "--yes")
    assert code == 1
    assert "test-network has termination protection on" in document["error"]
    assert "--no-enable-termination-protection --stack-name test-network" in document["error"]
    assert deletes == []


def test_make_destroy_yes_needs_env_named_on_the_command_line() -> None:
    """A default ENV (or one a shell exported) never destroys an environment unasked."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ENV": "local"}  # exported: not the command line
    result = subprocess.run(
        ["make", "-s", "destroy", "YES=1"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "name the environment on the command line" in result.stderr
    assert "local_aws.py destroy" not in result.stderr  # nothing was run


def test_a_kept_bucket_under_object_lock_is_explained_not_emptied(aws: dict[str, str]) -> None:
    """What the review says of a bucket a Retain policy keeps (the access-log bucket's case)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="logs-locked", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="logs-locked",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
        },
    )
    s3.put_object(Bucket="logs-locked", Key="a.log", Body=b"x")
    said = " ".join(destroy.bucket_left(s3, "logs-locked"))
    assert "stay after the stack is deleted" in said
    assert "S3 Object Lock (COMPLIANCE, 365 days" in said
    assert "aws s3api delete-bucket --bucket logs-locked" in said
    assert s3.list_objects_v2(Bucket="logs-locked")["KeyCount"] == 1  # nothing was deleted
    s3.create_bucket(Bucket="plain")
    plain = " ".join(destroy.bucket_left(s3, "plain"))
    assert "Object Lock" not in plain and "stay after the stack is deleted" in plain
