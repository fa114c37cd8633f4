"""Read-outs that misled on the emulator: "1/1 running" after desired_count = 2, "since" the
creation after an update, one change set's name repeated, the MISSING-alarms warning on every
run. Against moto over HTTP where moto can show it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

import deploy
from deployer import changeset, rollout, service_status, verify


def test_the_service_desired_count_is_shown_beside_a_deployment_that_did_not_follow(
    aws: dict[str, str],
) -> None:
    """moto keeps the PRIMARY deployment's counts as created: after UpdateService to 2 it said
    "1/1 running", all well. The service's own count is read and the disagreement said."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="c")
    family = ecs.register_task_definition(
        family="f", containerDefinitions=[{"name": "app", "image": "i", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.create_service(cluster="c", serviceName="s", taskDefinition=family, desiredCount=1)[
        "service"
    ]["serviceArn"]
    found = rollout.read(ecs, arn)
    assert found is not None and "wants" not in found.line()
    ecs.update_service(cluster="c", service="s", desiredCount=2)
    found = rollout.read(ecs, arn)
    assert found is not None and found.service_desired == 2
    assert "but the service wants 2 tasks" in found.line()
    assert rollout.Rollout(**found.to_dict()).line() == found.line()  # status renders the dict


def test_a_negative_pending_count_is_not_shown_as_if_ecs_gave_it() -> None:
    """The service stack gives no DesiredCount (autoscaling owns it); a service moto's
    CloudFormation creates so reads as 0 desired, 1 running and -1 pending (seen in the quick
    start: "1/0 running, -1 pending"). ECS never counts a negative pending: the line says whose
    counts these are."""
    moto_like = rollout.Rollout(
        service="s",
        deployment="ecs-svc/1",
        state="COMPLETED",
        reason="",
        running=1,
        pending=-1,
        desired=0,
        failed=0,
        replaced=0,
        task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/f:1",
    )
    assert "-1 pending" not in moto_like.line()
    assert "pending -1 (counts no ECS gives: an emulator's)" in moto_like.line()
    settled = rollout.Rollout(**{**moto_like.to_dict(), "pending": 0, "desired": 1})
    assert "1/1 running, 0 pending, 0 failed" in settled.line()


def test_since_is_the_last_update_not_the_creation(aws: dict[str, str]) -> None:
    """moto sets no LastUpdatedTime; before, make status showed the creation time after an
    update. The newest stack event dates it (AWS's LastUpdatedTime is used where given)."""
    cf = boto3.client("cloudformation")

    def apply(name: str, kind: str) -> None:
        body = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}}
        }
        cf.create_change_set(
            StackName="st", ChangeSetName=name, ChangeSetType=kind, TemplateBody=json.dumps(body)
        )
        cf.get_waiter("change_set_create_complete").wait(
            StackName="st", ChangeSetName=name, WaiterConfig={"Delay": 1}
        )
        cf.execute_change_set(StackName="st", ChangeSetName=name)

    apply("one", "CREATE")
    time.sleep(1.1)
    apply("two", "UPDATE")
    stack = cf.describe_stacks(StackName="st")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert service_status.last_change(cf, stack) > stack["CreationTime"]
    dated = {**stack, "LastUpdatedTime": stack["CreationTime"]}  # AWS's own, when it gives it
    assert service_status.last_change(cf, dated) == stack["CreationTime"]


class _Listing:
    """ListChangeSets listing one change set three times (seen on moto), DeleteChangeSet
    counted."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def list_change_sets(self, **_: Any) -> dict[str, Any]:
        summary = {
            "StackId": "stack-1", "ChangeSetId": "arn:cs/1", "ChangeSetName": "deploy-abc",
            "ExecutionStatus": "AVAILABLE",
        }  # fmt: skip
        return {"Summaries": [summary, summary, summary]}

    def delete_change_set(self, ChangeSetName: str) -> None:  # boto3 names it so
        self.deleted.append(ChangeSetName)


def test_a_change_set_listed_three_times_is_deleted_and_named_once() -> None:
    cf = _Listing()
    names = changeset.delete_stale_plans(cf, "stack-1")
    assert cf.deleted == ["arn:cs/1"]
    assert changeset.deleted_text(names) == "deleted 1 older plan change set(s): deploy-abc"
    assert changeset.deleted_text(["a", "b", "a"]) == (
        "deleted 3 older plan change set(s): a (x2), b"
    )


def test_missing_alarms_are_said_in_full_once_then_in_one_line() -> None:
    alarms = [verify.AlarmState(f"Alarm{i}", None, verify.MISSING) for i in range(6)]
    first = verify.Verification(alarms).warnings()
    assert first[0].startswith("WARNING: 6 of the stack's 6 alarms are not in CloudWatch")
    later = verify.Verification(alarms, missing_known=True).warnings()
    assert later == [
        "(6 alarms MISSING: a known limit of this endpoint, which creates no alarms; said in "
        "full on its first deploy)"
    ]
    assert not any(line.startswith("WARNING") for line in later)


def test_plan_is_a_verb_as_the_json_mode_names_it() -> None:
    args = deploy.parse_args(["plan", "--env", "local"])
    assert args.verb == "plan" and args.no_execute


def test_a_call_the_endpoint_does_not_implement_is_said_in_one_line(
    aws: dict[str, str],
) -> None:
    """moto implements no ListServiceDeployments: it answers HTTP 500 with an HTML page, which
    a canary service's follow printed whole, a dozen lines of markup in the deploy's output."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from deployer.status import error_line

    ecs = boto3.client("ecs", config=Config(retries={"max_attempts": 1}))
    try:
        ecs.list_service_deployments(service="s", cluster="c")
    except ClientError as error:
        line = error_line(error)
    else:
        import pytest

        pytest.skip("this moto implements ListServiceDeployments: no unimplemented call to show")
    assert line == (
        "ListServiceDeployments answered HTTP 500: the endpoint does not implement it"
    ), line
    assert "<" not in line and "\n" not in line
