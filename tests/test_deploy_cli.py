"""deploy.py and local_aws.py from a fresh emulator each time (moto's server over HTTP)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
import test_deploy_support as support

import deploy as deploy_py
from deployer import manifest as manifests

ROOT = Path(__file__).resolve().parent.parent


def deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,  # no terminal, as in CI
        timeout=120,
    )


def stack_names(aws_env: dict[str, str]) -> list[str]:
    cf = boto3.client("cloudformation", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    summaries = cf.list_stacks()["StackSummaries"]
    return [s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"]


def test_help_explains_every_option() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--env", "--stack", "--no-execute", "--yes", "--output"):
        assert option in result.stdout
    assert "exit" in result.stdout.lower()


def test_bad_environment_file_exits_1_naming_the_field_and_creates_nothing(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    text = (ROOT / "environments" / "local.toml").read_text()
    broken = tmp_path / "broken.toml"
    # whatever count the checkout's file has now (the README has people edit it)
    broken.write_text(re.sub(r"(?m)^min_count = \d+$", 'min_count = "two"', text))
    assert broken.read_text() != text
    build = support.write(tmp_path / "build")
    result = deploy(child_env, "--env", str(broken), "--build-dir", str(build), "--yes")
    assert result.returncode == 1
    assert "min_count" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert stack_names(aws) == []


def test_without_a_terminal_and_without_yes_every_plan_is_shown_then_it_refuses(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local")
    env = {**child_env, support.PAGERDUTY_VAR: "https://events.pagerduty.com/x"}
    result = deploy(env, "--env", "local", "--build-dir", str(build))
    assert result.returncode == 1
    out = result.stdout
    for name in ("test-network", "test-registry"):  # not only the first stack's plan
        assert f"Stack {name}: CREATE change set" in out
    assert "test-service: pending upstream (waits for test-network, test-registry" in out
    assert out.rindex("refusing to execute") > out.index("test-service: pending upstream")
    assert "--yes" in out
    assert stack_names(aws) == []  # the change sets' empty stacks went with them


@pytest.mark.parametrize("form", ["json", "markdown"])
def test_a_first_local_deploy_for_machines_is_one_document_on_stdout(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path, form: str
) -> None:
    """local_aws.py runs deploy.py twice on a fresh emulator (the registry, the image, the
    rest): stdout still holds one document, with every stack."""
    build = support.write(tmp_path / "local")
    env = {**child_env, support.PAGERDUTY_VAR: "https://events.pagerduty.com/x"}
    command = [sys.executable, str(ROOT / "local_aws.py"), "deploy", "--build-dir", str(build)]
    result = subprocess.run(
        [*command, "--yes", "--output", form],
        env=env, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[local-aws] registered scalable-app-local:v1" in result.stderr
    if form == "markdown":
        assert result.stdout.count("### Deploy of `local`") == 1
        assert result.stdout.count("| Stack | Outcome |") == 1
        for name in ("test-network", "test-registry", "test-service"):
            assert f"| `{name}` | created |" in result.stdout
        return
    document = json.loads(result.stdout)
    assert [(s["key"], s["outcome"]) for s in document["stacks"]] == [
        ("network", "created"),
        ("registry", "created"),
        ("service", "created"),
    ]


def test_without_a_terminal_nothing_to_change_is_success(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    """A CI job that runs make deploy without YES=1 must not fail because nothing changed."""
    build = support.write(tmp_path / "local")
    args = ("--env", "local", "--build-dir", str(build), "--stack", "registry")
    assert deploy(child_env, *args, "--yes").returncode == 0
    again = deploy(child_env, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "refusing" not in again.stdout
    assert "no changes" in again.stdout


SSO_PROFILE = """[profile prod]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Deployer
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
"""


@pytest.mark.parametrize(
    ("config", "variables", "message"),
    [
        ("", {}, "error: no AWS credentials found for region us-east-1"),
        ("", {"AWS_PROFILE": "nope"}, "The config profile (nope) could not be found"),
        # resolves, but fails when first used: the first call is a read, before any change
        (SSO_PROFILE, {"AWS_PROFILE": "prod"}, "did not work for region us-east-1: Error loading"),
    ],
)
def test_without_usable_credentials_it_stops_before_any_change_and_says_how_to_fix_it(
    child_env: dict[str, str],
    aws: dict[str, str],
    tmp_path: Path,
    config: str,
    variables: dict[str, str],
    message: str,
) -> None:
    build = support.write(tmp_path / "local")
    (tmp_path / "config").write_text(config)
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    env = {k: v for k, v in child_env.items() if k not in keys}
    env.update(
        HOME=str(tmp_path),  # no ~/.aws/sso/cache token
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance role to find here
        **variables,
    )
    for output in ("text", "json"):
        args = ("--build-dir", str(build), "--stack", "network", "--yes", "--output", output)
        result = deploy(env, "--env", "local", *args)
        assert result.returncode == 1
        assert message in result.stdout + result.stderr
        assert "Set AWS_PROFILE (or the AWS_* variables)" in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["exit_code"] == 1
    assert stack_names(aws) == []


def test_plan_on_an_empty_account_exits_2_and_a_deploy_then_uses_it(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local")
    env = {**child_env, support.PAGERDUTY_VAR: "https://events.pagerduty.com/x"}
    plan = deploy(env, "--env", "local", "--build-dir", str(build), "--no-execute")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "test-network: changes" in plan.stdout
    assert "test-service: pending upstream (waits for test-network, test-registry" in plan.stdout
    # the plan's CREATE change sets wait in REVIEW_IN_PROGRESS; a deploy creates the stacks
    # (a stack awaiting its first change set is not mistaken for a failed create)
    run = deploy(
        env,
        "--env",
        "local",
        "--build-dir",
        str(build),
        "--yes",
        "--stack",
        "network",
        "--stack",
        "registry",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test-registry: created" in run.stdout
    assert "must be deleted" not in run.stdout


def test_a_template_over_51200_bytes_goes_through_s3(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    build = support.write(tmp_path / "local", padding=60_000)
    assert (build / "registry.json").stat().st_size > 51_200
    result = deploy(
        child_env, "--env", "local", "--build-dir", str(build), "--yes", "--stack", "registry"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "uploading to s3://cfn-templates-123456789012-us-east-1/test-registry/" in result.stdout
    s3 = boto3.client("s3")
    keys = s3.list_objects_v2(Bucket="cfn-templates-123456789012-us-east-1")["Contents"]
    assert keys[0]["Key"].startswith("test-registry/")


@pytest.mark.parametrize("output", ["text", "json"])
def test_missing_noecho_value_stops_before_any_change(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path, output: str
) -> None:
    build = support.write(tmp_path / "local")
    result = deploy(
        child_env, "--env", "local", "--build-dir", str(build), "--yes", "--output", output
    )
    assert result.returncode == 1
    assert support.PAGERDUTY_VAR in result.stdout + result.stderr
    assert stack_names(aws) == []


def test_a_failed_create_is_explained_then_deleted_and_recreated_with_yes(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    """moto's failure mode: the provider's error comes back from ExecuteChangeSet and the
    stack stays REVIEW_IN_PROGRESS (AWS would roll back to ROLLBACK_COMPLETE)."""
    from troposphere import Template, ecs

    build = tmp_path / "local"
    build.mkdir()
    broken = Template()
    broken.add_resource(ecs.Service("Service", Cluster="no-such-cluster", TaskDefinition="x"))
    fixed = Template()
    fixed.add_resource(ecs.Cluster("Cluster"))
    base = manifests.load(support.write(tmp_path / "base"))
    app = replace(
        base.stacks[0], key="app", stack_name="test-app", template_path=build / "app.json"
    )
    support.save(build, replace(base, path=build / "manifest.json", stacks=(app,), services=()))
    args = ("--env", "local", "--build-dir", str(build), "--yes")

    (build / "app.json").write_text(broken.to_json())
    failed = deploy(child_env, *args)
    assert failed.returncode == 1
    assert "DEPLOY FAILED" in failed.stdout
    assert "Root cause: ExecuteChangeSet failed" in failed.stdout
    assert "Cluster not found" in failed.stdout
    assert "Stack test-app is now REVIEW_IN_PROGRESS." in failed.stdout

    (build / "app.json").write_text(fixed.to_json())
    plan = deploy(child_env, "--env", "local", "--build-dir", str(build), "--no-execute")
    assert plan.returncode == 2
    assert "after a create that did not complete" in plan.stdout
    assert "deploy will ask to delete it" in plan.stdout

    again = deploy(child_env, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "deleting test-app" in again.stdout
    assert "test-app: created" in again.stdout


def test_on_a_terminal_it_asks_and_no_means_nothing_changes(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    import pty
    import select

    build = support.write(tmp_path / "local")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy.py"), "--env", "local", "--build-dir", str(build),
         "--stack", "registry"],
        env=child_env, cwd=ROOT, stdin=terminal, stdout=terminal, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            ready, _, _ = select.select([controller], [], [], 30)
            assert ready, seen.decode()
            seen += os.read(controller, 4096)
        os.write(controller, b"n\n")
        assert process.wait(timeout=30) == 1
        while select.select([controller], [], [], 0.5)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    text = seen.decode()
    assert "Execute the change sets above (test-registry) in account" in text
    assert "not executed: 1 change set(s) deleted, nothing changed" in text
    assert stack_names(aws) == []  # the CREATE change set and its empty stack are gone


def test_the_change_sets_revision_is_read_in_a_git_worktree_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In `git worktree add` checkouts `.git` is a file; the revision is still the checkout's
    (it names the change sets: "deploy-norev-..." told the reviewer nothing)."""

    def git(*args: str, cwd: Path) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
        ).stdout.strip()

    main = tmp_path / "main"
    main.mkdir()
    git("init", "-q", "-b", "main", cwd=main)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "a",
        cwd=main)  # fmt: skip
    git("worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"), cwd=main)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "b",
        cwd=tmp_path / "wt")  # fmt: skip
    for checkout in (main, tmp_path / "wt"):
        monkeypatch.setattr(deploy_py, "ROOT", checkout)
        assert deploy_py.git_revision() == git("rev-parse", "HEAD", cwd=checkout)[:10]
    git("pack-refs", "--all", cwd=main)  # refs packed: read from packed-refs in the main one
    assert deploy_py.git_revision() == git("rev-parse", "HEAD", cwd=tmp_path / "wt")[:10]


def test_missing_credentials_are_said_alike_by_push_plan_and_status(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    """Before: plan said "no AWS credentials found...", status a credentials error with
    botocore's words, push "AWS said: Unable to locate credentials"."""
    from deployer.preflight import credentials_problem

    build = support.write(tmp_path / "local")
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
    env = {k: v for k, v in child_env.items() if k not in keys}
    env.update(
        HOME=str(tmp_path),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    said = credentials_problem("us-east-1")
    plan = deploy(env, "plan", "--env", "local", "--build-dir", str(build))
    status = deploy(env, "status", "--env", "local", "--build-dir", str(build))
    push = subprocess.run(
        [sys.executable, str(ROOT / "push.py"), "--env", "local", "--build-dir", str(tmp_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert f"error: {said}" in plan.stdout
    assert f"error: {said}" in status.stdout
    assert f"push: error: {said}" in push.stderr
    assert (plan.returncode, status.returncode, push.returncode) == (1, 1, 1)
