"""End to end against moto's server over HTTP: deploy.py and the local flow as subprocesses.

The tests in this module share one deployed state, built once (a first deploy is the
slowest step); they run in file order and each leaves the stacks deployed. Fresh-state tests
live in test_deploy_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import test_deploy_support as support

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stage:
    build: Path
    env: dict[str, str]
    first: subprocess.CompletedProcess[str]

    def deploy(self, *args: str, build: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_deploy(self.env, "--build-dir", str(build or self.build), *args)

    def client(self, service: str):
        return emulator_client(self.env, service)


def run_deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_script(env, "deploy.py", "--env", support.ENV, *args)


def run_script(
    env: dict[str, str], script: str, *args: str, merged: bool = False
) -> subprocess.CompletedProcess[str]:
    """`merged`: stderr (progress, [local-aws] lines) into stdout, in the order written."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def fresh_emulator(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The emulator reset, and the environment of a subprocess that deploys to it."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    ).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        SCALABLE_APP_LOCK_DIR=str(tmp_path_factory.mktemp("locks")),
        **{support.PAGERDUTY_VAR: "https://events.pagerduty.com/test"},
    )
    return env


def emulator_client(env: dict[str, str], service: str):
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def stage(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """A fresh emulator, then the first deploy through the local flow (bootstrap, registry
    first, the image registered in ECR, then every stack)."""
    env = fresh_emulator(moto_endpoint, tmp_path_factory)
    build = support.write(tmp_path_factory.mktemp("build") / "local")
    first = run_script(
        env, "local_aws.py", "deploy", "--build-dir", str(build), "--yes", merged=True
    )
    yield Stage(build, env, first)


def leftover_change_sets(stage: Stage) -> list[dict]:
    """Change sets neither executed nor gone (moto keeps executed ones, AWS does not). A plan
    (--no-execute) leaves its change sets for review in the console, until the next execution."""
    cf = stage.client("cloudformation")
    found = []
    for name in ("test-network", "test-registry", "test-service"):
        stack_id = cf.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
        summaries = cf.list_change_sets(StackName=name)["Summaries"]
        found += [
            s
            for s in summaries
            if s["StackId"] == stack_id and s["ExecutionStatus"] != "EXECUTE_COMPLETE"
        ]
    return found


def test_first_deploy_creates_every_stack_and_reports_the_url(stage: Stage) -> None:
    assert stage.first.returncode == 0, stage.first.stdout + stage.first.stderr
    cf = stage.client("cloudformation")
    for name in ("test-network", "test-registry", "test-service"):
        assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    out = stage.first.stdout
    # the registry exists before the image is registered, and the service's check passes then
    assert out.index("test-registry: CREATE_COMPLETE") < out.index(
        "registered scalable-app-local:v1"
    )
    assert out.index("registered scalable-app-local:v1") < out.index(
        "image scalable-app-local:v1 is in ECR"
    )
    dns = stage.client("elbv2").describe_load_balancers()["LoadBalancers"][0]["DNSName"]
    assert f"Url          http://{dns}/" in out
    # each notice once per run, though local_aws.py runs deploy.py twice here
    assert out.count("Deploying local in us-east-1") == 1
    assert out.count("DescribeStacks returned no Outputs") == 1
    assert "(not AWS: no console links)" in out and "console.aws.amazon.com" not in out
    service = cf.describe_stack_resources(StackName="test-service")["StackResources"]
    assert {r.get("ResourceType") for r in service} >= {"AWS::ECS::Service", "AWS::Logs::LogGroup"}


def test_second_deploy_reports_no_changes_and_leaves_no_change_set(stage: Stage) -> None:
    result = stage.deploy("--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("test-network", "test-registry", "test-service"):
        assert f"{name}: no changes" in result.stdout
    assert "executing" not in result.stdout
    assert leftover_change_sets(stage) == []
    assert "Url " in result.stdout  # the outputs are reported on a no-change deploy too


def test_no_execute_exits_0_when_nothing_would_change(stage: Stage) -> None:
    result = stage.deploy("--no-execute")
    assert result.returncode == 0, result.stdout + result.stderr
    assert leftover_change_sets(stage) == []


def test_desired_count_and_alarm_threshold_show_modify_then_update(
    stage: Stage, tmp_path: Path
) -> None:
    changed = support.write(tmp_path / "local", desired_count=3, threshold=25)
    plan = stage.deploy("--no-execute", build=changed)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    lines = plan.stdout.splitlines()
    assert any(line.split()[:2] == ["Modify", "Service"] for line in lines)
    assert any(line.split()[:2] == ["Modify", "Target5xxAlarm"] for line in lines)
    assert "/Properties/DesiredCount: 1 -> 3  (template values)" in plan.stdout
    assert "/Properties/Threshold: 10 -> 25  (template values)" in plan.stdout
    assert "console.aws.amazon.com" not in plan.stdout  # the emulator is not AWS
    assert "Replacement" in plan.stdout and "False (predicted)" in plan.stdout

    as_json = stage.deploy("--no-execute", "--output", "json", build=changed)
    assert as_json.returncode == 2, as_json.stderr
    document = json.loads(as_json.stdout)
    service = next(s for s in document["stacks"] if s["key"] == "service")
    rows = {(r["action"], r["logical_id"]) for r in service["review"]["rows"]}
    assert rows == {("Modify", "Service"), ("Modify", "Target5xxAlarm")}
    assert [s["outcome"] for s in document["stacks"]] == ["no changes", "no changes", "changes"]
    assert document["endpoint"] == stage.env["AWS_ENDPOINT_URL"]
    row = next(r for r in service["review"]["rows"] if r["logical_id"] == "Service")
    assert (row["replacement"], row["replacement_source"]) == ("False", "predicted")
    assert row["reported_replacement"] == ""
    assert as_json.stderr.startswith("Planning local in us-east-1")  # progress, not stdout

    as_markdown = stage.deploy("--no-execute", "--output", "markdown", build=changed)
    assert as_markdown.returncode == 2, as_markdown.stderr
    md = as_markdown.stdout
    assert md.startswith("### Plan of `local` in `us-east-1`")
    assert md.index("| Stack | Outcome |") < md.index("<details><summary>test-service")
    assert "| `test-service` | changes | 2 | 0 | 0 | 0 |" in md
    assert "Planning" not in md

    applied = stage.deploy("--yes", build=changed)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "test-service: UPDATE_COMPLETE" in applied.stdout
    resources = stage.client("cloudformation").describe_stack_resources(StackName="test-service")
    service_arn = next(
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("LogicalResourceId") == "Service"
    )
    cluster = service_arn.split("/")[1]
    described = stage.client("ecs").describe_services(cluster=cluster, services=[service_arn])
    assert described["services"][0]["desiredCount"] == 3
    again = stage.deploy("--yes", build=changed)
    assert again.returncode == 0 and "test-service: no changes" in again.stdout
    assert leftover_change_sets(stage) == []


def test_parameter_only_change_is_not_mistaken_for_no_changes(stage: Stage, tmp_path: Path) -> None:
    """moto shows no Changes for a parameter-only change; the parameters still differ."""
    ecr = stage.client("ecr")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "1" * 64, "size": 2},
            "layers": [],
        }
    )
    ecr.put_image(repositoryName=support.REPOSITORY, imageManifest=body, imageTag="v2")
    changed = support.write(tmp_path / "local", desired_count=3, threshold=25, image_tag="v2")
    result = stage.deploy("--yes", build=changed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ImageTag: v1 -> v2" in result.stdout
    assert "test-service: UPDATE_COMPLETE" in result.stdout


def test_an_outputs_only_change_is_executed_not_taken_for_no_changes(
    stage: Stage, tmp_path: Path
) -> None:
    """AWS answers an Outputs-only change with a change set that completes with zero Changes
    and is executable (so does moto); a downstream stack may need the new output."""
    with_output = support.write(tmp_path / "local", desired_count=3, threshold=25, image_tag="v2")
    support.write(with_output, desired_count=3, threshold=25, image_tag="v2", arn_output=True)
    result = stage.deploy("--yes", "--stack", "registry", build=with_output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test-registry: UPDATE_COMPLETE" in result.stdout, result.stdout
    assert "test-registry: no changes" not in result.stdout
    deployed = stage.client("cloudformation").get_template(StackName="test-registry")
    assert "RepositoryArn" in json.dumps(deployed["TemplateBody"])


def test_missing_image_stops_before_any_change_set(stage: Stage, tmp_path: Path) -> None:
    missing = support.write(tmp_path / "local", desired_count=3, threshold=25, image_tag="nope")
    before = leftover_change_sets(stage)
    result = stage.deploy("--yes", build=missing)
    assert result.returncode == 1
    assert "image scalable-app-local:nope is not in ECR" in result.stdout
    assert leftover_change_sets(stage) == before


def test_a_network_cidr_change_plans_the_vpc_and_its_dependents_replaced_and_exits_2(
    stage: Stage, tmp_path: Path
) -> None:
    """The emulator reports no Replacement: the plan predicts it from the resource schemas."""
    changed = support.write(tmp_path / "local", desired_count=3, threshold=25)
    network = changed / "network.json"
    network.write_text(network.read_text().replace('"10.0.', '"10.7.'))
    plan = stage.deploy("--no-execute", "--stack", "network", build=changed)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    out = plan.stdout
    assert "RISKY CHANGES" in out
    assert "! [replace-data] Vpc (AWS::EC2::VPC): replaced" in out
    assert "will be REPLACED (predicted from its schema: CidrBlock is create-only)" in out
    assert any(
        line.split()[:4] == ["Modify", "Vpc", "AWS::EC2::VPC", "True"] for line in out.splitlines()
    )

    as_json = json.loads(stage.deploy("--no-execute", "--output", "json", build=changed).stdout)
    stack, _, service = as_json["stacks"]
    # the service stack takes the subnets' IDs: it changes too, once the network is deployed
    assert service["outcome"] == "changes"
    assert service["review"]["upstream_replaced"][0].startswith(
        "SubnetIds: network's PublicSubnetA, PublicSubnetB are replaced"
    )
    vpc = next(r for r in stack["review"]["rows"] if r["logical_id"] == "Vpc")
    assert vpc["predicted"]["because"] == ["CidrBlock"]
    assert {"code": "replace-data", "logical_id": "Vpc"}.items() <= next(
        r for r in stack["review"]["risks"] if r["logical_id"] == "Vpc"
    ).items()


def test_a_stack_tag_change_is_a_change_and_is_applied(stage: Stage, tmp_path: Path) -> None:
    """Last in this module: it leaves the stacks with other tags than support.write gives."""
    retagged = support.write(tmp_path / "local", desired_count=3, threshold=25)
    manifest = json.loads((retagged / "manifest.json").read_text())
    for spec in manifest["stacks"]:
        spec["tags"] = {"team": "payments"}
    (retagged / "manifest.json").write_text(json.dumps(manifest))
    args = ("--stack", "registry")
    plan = stage.deploy("--no-execute", *args, build=retagged)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "Stack tags:\n  team: platform -> payments" in plan.stdout
    assert "test-registry: no changes" not in plan.stdout

    applied = stage.deploy("--yes", *args, build=retagged)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    described = stage.client("cloudformation").describe_stacks(StackName="test-registry")
    assert described["Stacks"][0]["Tags"] == [{"Key": "team", "Value": "payments"}]
    again = stage.deploy("--no-execute", *args, build=retagged)
    assert again.returncode == 0 and "test-registry: no changes" in again.stdout
