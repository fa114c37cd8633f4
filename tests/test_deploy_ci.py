"""What the CI pipeline needs from the deployer, through deploy.py on moto over HTTP:

- a manifest that names a CloudFormation service role (the ci stack's) has every change set
  created with it as RoleARN, so CloudFormation, not the caller, manages the stack's resources;
  without one, the caller's credentials are used;
- a pull request's plan runs before its revision's image is pushed: the plan says the image is
  missing and goes on; the deploy still stops on it (tests/test_deploy_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import boto3
import test_deploy_support as support
from test_deploy_cli import deploy

ROLE = "arn:aws:iam::123456789012:role/ci/scalable-app-local-cloudformation"


def stack_role(aws_env: dict[str, str], name: str) -> str | None:
    cf = boto3.client("cloudformation", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    role: str | None = cf.describe_stacks(StackName=name)["Stacks"][0].get("RoleARN")
    return role


def test_the_manifests_role_is_the_stacks_role_arn(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local", role_arn=ROLE)
    args = ("--env", "local", "--build-dir", str(build), "--stack", "registry", "--yes")
    result = deploy(child_env, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack_role(aws, "test-registry") == ROLE


def test_without_a_role_the_stack_has_none(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local")
    args = ("--env", "local", "--build-dir", str(build), "--stack", "registry", "--yes")
    result = deploy(child_env, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack_role(aws, "test-registry") is None


def test_a_plan_without_the_image_says_so_and_plans_the_service(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    first = support.write(tmp_path / "first" / "local")
    args = ("--env", "local", "--build-dir")
    upstream = deploy(
        child_env, *args, str(first), "--stack", "network", "--stack", "registry", "--yes"
    )
    assert upstream.returncode == 0, upstream.stdout + upstream.stderr
    unpushed = support.write(tmp_path / "unpushed" / "local", image_tag="not-pushed-yet")
    plan = deploy(
        {**child_env, support.PAGERDUTY_VAR: "https://events.pagerduty.com/x"},
        *args,
        str(unpushed),
        "--no-execute",
    )
    assert plan.returncode == 2, plan.stdout + plan.stderr  # the service would be created
    assert "note: image scalable-app-local:not-pushed-yet is not in ECR" in plan.stdout
    assert "test-service" in plan.stdout
