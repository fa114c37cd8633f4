"""After the deploy, on moto's server over HTTP: what a deploy ends with, `status`, `rollback`
(the make verbs' path through local_aws.py, and deploy.py for JSON), the rollout watch.

The tests share one deployed state and run in file order: image v0 is deployed first (the
stack's create), then v1 and v2, then rolled back to v1. (moto keeps a stack's creation
parameters as its own: a change set back to them comes back empty there, so the rollback
executed here goes to an image of an update.)
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import test_deploy_support as support
from test_deploy_e2e import emulator_client, fresh_emulator, run_script

from deployer import postdeploy, rollout
from deployer.errors import DeployFailed
from deployer.follow import describe_stack


@dataclass
class Stage:
    env: dict[str, str]
    v0: Path
    v1: Path
    v2: Path
    first: str

    def deploy_py(self, *args: str, build: Path | None = None):
        return run_script(self.env, "deploy.py", *args, "--build-dir", str(build or self.v2))

    def local(self, command: str, *args: str, build: Path | None = None):
        return run_script(
            self.env, "local_aws.py", command, "--build-dir", str(build or self.v2), *args
        )

    def client(self, service: str):
        return emulator_client(self.env, service)


@pytest.fixture(scope="module")
def stage(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    env = fresh_emulator(moto_endpoint, tmp_path_factory)
    builds = [
        support.write(tmp_path_factory.mktemp(tag) / "local", image_tag=tag)
        for tag in ("v0", "v1", "v2")
    ]
    first = run_script(env, "local_aws.py", "deploy", "--build-dir", str(builds[0]), "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    yield Stage(env, *builds, first.stdout)


def after_the_deploy(stdout: str) -> list[str]:
    return stdout[stdout.index("After the deploy of") :].splitlines()


def test_a_deploy_ends_with_rollout_alarms_paging_and_why_the_smoke_check_cannot_run(
    stage: Stage,
) -> None:
    lines = after_the_deploy(stage.first)
    assert lines[0] == "After the deploy of test-service (service web, image v0):"
    assert lines[1].startswith("  rollout ") and "/1 running" in lines[1]
    assert "  alarms: 0 of 1 OK or INSUFFICIENT_DATA" in lines
    assert "    Target5xxAlarm  MISSING" in lines  # moto's CloudFormation creates no alarms
    assert "  paging: 0 of 0 subscriptions confirmed" in lines
    (smoke,) = [line for line in lines if "smoke:" in line]
    assert smoke.startswith(
        f"  smoke: not run: AWS is emulated at {stage.env['AWS_ENDPOINT_URL']}: its load "
        "balancer serves nothing, so https://local.example.com/_health cannot be reached"
    )
    assert smoke.endswith("/_health cannot be reached")
    assert lines[-1] == (
        "  recorded image v0 in SSM parameter /test-service/deployed-image-tag "
        "(make rollback goes back from it)"
    )


def test_no_verify_skips_alarms_and_paging_only(stage: Stage) -> None:
    again = stage.deploy_py("--env", support.ENV, "--yes", "--no-verify", build=stage.v0)
    assert again.returncode == 0, again.stderr
    lines = after_the_deploy(again.stdout)
    assert "  alarms and paging: not checked (--no-verify)" in lines
    assert not any(line.startswith("  alarms:") for line in lines)
    assert any(line.startswith("  smoke: not run:") for line in lines)


def test_status_shows_the_service_on_one_screen(stage: Stage) -> None:
    shown = stage.local("status", build=stage.v0)
    assert shown.returncode == 0, shown.stderr
    assert (
        "  test-service   CREATE_COMPLETE  since " in shown.stdout
        or "UPDATE_COMPLETE" in shown.stdout
    )
    assert "  image: v0 deployed; the same as this checkout's" in shown.stdout
    assert "  rollback: nothing recorded to roll back to" in shown.stdout
    assert "  alarms: 0 of 1 OK or INSUFFICIENT_DATA" in shown.stdout
    assert "Service web (test-service):" in shown.stdout
    assert "  url:       https://local.example.com" in shown.stdout  # the service's route
    as_json = stage.deploy_py("status", "--env", support.ENV, "--output", "json")
    found = json.loads(as_json.stdout)["status"]
    assert [s["key"] for s in found["stacks"]] == ["network", "registry", "service"]
    (service,) = found["services"]
    assert service["name"] == "web"
    image = service["image"]
    assert (image["deployed"], image["checkout"]) == ("v0", "v2")
    assert [i.rsplit(":", 1)[-1] for i in image["running"]] == ["v0"]
    assert service["rollout"]["desired"] == 1
    assert service["verify"]["alarms"][0]["state"] == "MISSING"


def test_rollback_with_nothing_recorded_before_says_so(stage: Stage) -> None:
    refused = stage.local("rollback", "--yes", build=stage.v0)
    assert refused.returncode == 1
    assert (
        "error: nothing to roll back to: test-service runs image v0, and SSM parameter "
        "/test-service/deployed-image-tag records no image deployed before it"
    ) in refused.stdout


def test_rollback_reviews_and_deploys_only_the_previous_image(stage: Stage) -> None:
    for build, tag in ((stage.v1, "v1"), (stage.v2, "v2")):
        deployed = stage.local("deploy", "--yes", build=build)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert f"recorded image {tag}" in deployed.stdout
    rolled = stage.deploy_py("rollback", "--env", support.ENV, "--yes", "--output", "json")
    assert rolled.returncode == 0, rolled.stderr
    document = json.loads(rolled.stdout)
    (service,) = [s for s in document["stacks"] if s["key"] == "service"]
    review = service["review"]
    assert review is not None, rolled.stderr
    assert [(p["path"], p["before"], p["after"]) for p in review["parameters"]] == [
        ("ImageTag", "v2", "v1")
    ]
    assert {row["logical_id"] for row in review["rows"]} <= {"TaskDefinition", "Service"}
    assert [(a["service"], a["image_tag"]) for a in document["after_deploy"]] == [("web", "v1")]
    stack = stage.client("cloudformation").describe_stacks(StackName="test-service")["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["ImageTag"] == "v1"
    history = stage.client("ssm").get_parameter_history(Name="/test-service/deployed-image-tag")
    assert [(v["Value"], v["Description"].split(":")[0]) for v in history["Parameters"]] == [
        ("v0", "deploy"),
        ("v1", "deploy"),
        ("v2", "deploy"),
        ("v1", "rollback"),
    ]


def test_after_a_rollback_the_next_one_goes_further_back_not_forward(stage: Stage) -> None:
    shown = stage.deploy_py("status", "--env", support.ENV, "--output", "json")
    (service,) = json.loads(shown.stdout)["status"]["services"]
    assert service["rollback_to"] == "v0"
    assert [(e["tag"], e["kind"]) for e in service["recorded"]][-2:] == [
        ("v2", "deploy"),
        ("v1", "rollback"),
    ]


def test_a_stack_that_does_not_run_the_tag_is_neither_checked_nor_recorded(stage: Stage) -> None:
    with pytest.raises(DeployFailed) as failed:
        stack = describe_stack(stage.client("cloudformation"), "test-service")
        postdeploy.runs_tag("test-service", stack, "v9")
    assert str(failed.value) == "test-service runs image v1, not v9"


def service_arn(stage: Stage) -> str:
    resources = stage.client("cloudformation").describe_stack_resources(StackName="test-service")
    (arn,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == "AWS::ECS::Service"
    ]
    return arn


def test_rollout_is_one_line_redrawn_on_a_terminal(stage: Stage) -> None:
    terminal, said = io.StringIO(), []
    ecs = stage.client("ecs")
    watch = rollout.Watch(lambda: ecs, lambda: service_arn(stage), said.append, terminal)
    watch.poll()
    watch.say("  12:00:00  UPDATE_COMPLETE  test-service")
    watch.poll()
    watch.close()
    drawn = terminal.getvalue()
    assert drawn.count("\n") == 1 and drawn.endswith("\n")  # the last state stays
    assert drawn.count("\r\x1b[2K  rollout ") == 3  # drawn, redrawn after the event, polled
    assert said == ["  12:00:00  UPDATE_COMPLETE  test-service"]


def test_rollout_is_a_plain_line_per_change_elsewhere(stage: Stage) -> None:
    said: list[str] = []
    ecs = stage.client("ecs")
    watch = rollout.Watch(lambda: ecs, lambda: service_arn(stage), said.append, None)
    watch.poll()
    watch.poll()  # nothing changed: nothing printed
    watch.close()
    (line,) = said
    assert line.startswith("  rollout ") and "/1 running" in line
