"""Recovering from a deploy stopped halfway, against moto's server over HTTP: a first create
left awaiting execution, and the verbs that act on an operation (follow, cancel)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import boto3
import pytest
import test_deploy_support as support
from test_deploy_e2e import run_deploy

from deployer import manifest as manifests


def live_stacks(env: dict[str, str], name: str) -> list[dict]:
    cf = boto3.client(
        "cloudformation",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    summaries = cf.list_stacks()["StackSummaries"]
    return [
        s for s in summaries if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"
    ]


@pytest.fixture
def env(child_env: dict[str, str]) -> dict[str, str]:
    return {**child_env, support.PAGERDUTY_VAR: "https://events.pagerduty.com/test"}


def test_a_create_left_awaiting_execution_is_replaced_not_duplicated(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A plan of another revision (or a deploy killed at its prompt) leaves the stack in
    REVIEW_IN_PROGRESS with a change set of ours; the next deploy deletes that empty stack and
    creates one stack, not a second stack of the same name."""
    planned = support.write(tmp_path / "planned" / "local")
    plan = run_deploy(env, "--build-dir", str(planned), "--no-execute", "--stack", "registry")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert [s["StackStatus"] for s in live_stacks(env, "test-registry")] == ["REVIEW_IN_PROGRESS"]

    changed = support.write(tmp_path / "changed" / "local", arn_output=True)
    deployed = run_deploy(env, "--build-dir", str(changed), "--yes", "--stack", "registry")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "deleting the empty stack first" in deployed.stdout
    assert [s["StackStatus"] for s in live_stacks(env, "test-registry")] == ["CREATE_COMPLETE"]


def test_follow_and_cancel_on_a_settled_stack_say_so_and_exit_0(
    env: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local")
    assert (
        run_deploy(env, "--build-dir", str(build), "--yes", "--stack", "registry").returncode == 0
    )

    follow = run_deploy(env, "follow", "--build-dir", str(build), "--stack", "registry")
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert "test-registry is CREATE_COMPLETE: no operation in progress" in follow.stdout

    cancel = run_deploy(env, "cancel", "--build-dir", str(build), "--stack", "registry")
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert "nothing to cancel (no operation is in progress)" in cancel.stdout

    missing = run_deploy(env, "follow", "--build-dir", str(build), "--stack", "service")
    assert missing.returncode == 1
    assert "stack test-service does not exist: nothing to do" in missing.stdout


def test_a_missing_prerequisite_stops_the_deploy_before_any_change_set(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The service stack reads an SSM parameter the account does not have: the deploy says
    which and how to create it, exits 1, and no stack or change set exists afterwards."""
    build = support.write(tmp_path / "local")
    manifest = manifests.load(build)
    network = replace(manifest.stacks[0], prerequisites=(manifests.SSM_PARAMETERS,))
    support.save(build, replace(manifest, stacks=(network, *manifest.stacks[1:])))

    result = run_deploy(env, "--build-dir", str(build), "--yes")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "/scalable-app/local/pagerduty-url" in result.stdout
    assert "aws ssm put-parameter" in result.stdout
    assert live_stacks(env, "test-network") == []
