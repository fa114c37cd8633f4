"""Drift in every plan, drift-aware change sets, and the change set's content digest.

moto implements no drift detection (DetectStackDrift answers HTTP 500), so what AWS answers
(drifted resources, a partial detection, a refusal, a slow detection) is stood in for with
botocore's Stubber; the emulator's answer is tested over HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_stubbed as stubbed
import test_deploy_support as support
from test_deploy_cli import deploy
from test_deploy_stubbed import CHANGE_SET, STACK, STACK_ID, FakeAws, Recorder, stack

from deployer import changeset, drift, markdown, review_text
from deployer.changeset import ChangeSet, Content
from deployer.manifest import StackSpec
from deployer.poll import Backoff
from deployer.review import build

ROOT = Path(__file__).resolve().parent.parent
DETECTION = "f1e2d3c4-0000-4000-8000-000000000001"
INGRESS = json.dumps([{"CidrIp": "10.0.0.0/16", "FromPort": 80, "IpProtocol": "tcp"}])
DRIFTS = {
    "StackResourceDrifts": [
        {
            "StackId": STACK_ID,
            "LogicalResourceId": "ServiceSecurityGroup",
            "PhysicalResourceId": "sg-0123",
            "ResourceType": "AWS::EC2::SecurityGroup",
            "StackResourceDriftStatus": "MODIFIED",
            "Timestamp": "2026-12-06T20:00:00Z",
            "PropertyDifferences": [
                {
                    "PropertyPath": "/SecurityGroupIngress/1",
                    "ExpectedValue": "",
                    "ActualValue": json.dumps({"CidrIp": "0.0.0.0/0", "FromPort": 22}),
                    "DifferenceType": "ADD",
                },
                {
                    "PropertyPath": "/GroupDescription",
                    "ExpectedValue": "the service tasks",
                    "ActualValue": "edited by hand",
                    "DifferenceType": "NOT_EQUAL",
                },
            ],
        },
        {
            "StackId": STACK_ID,
            "LogicalResourceId": "Alarm",
            "ResourceType": "AWS::CloudWatch::Alarm",
            "StackResourceDriftStatus": "DELETED",
            "Timestamp": "2026-12-06T20:00:00Z",
        },
    ]
}


def status(detection: str, reason: str = "") -> dict[str, Any]:
    answer = {
        "StackId": STACK_ID,
        "StackDriftDetectionId": DETECTION,
        "DetectionStatus": detection,
        "Timestamp": "2026-12-06T20:00:00Z",
    }
    if reason:
        answer["DetectionStatusReason"] = reason
    return answer


def detected(aws: FakeAws, recorder: Recorder, timeout: float = 60.0) -> drift.Drift:
    cf = aws.cloudformation
    found = drift.start(cf, STACK_ID)
    if isinstance(found, drift.Drift):
        return found
    backoff = Backoff(sleep=recorder.sleep, first=0.0)
    return drift.collect(cf, found, STACK_ID, backoff, backoff.deadline(timeout))


def test_stubbed_drifted_resources_with_their_property_differences() -> None:
    """Stands in for AWS's drift detection (moto has none): a rule added by hand and a deleted
    alarm are named, with each property's template and actual value."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": DETECTION}, {"StackName": STACK_ID}
    )
    cf.add_response("describe_stack_drift_detection_status", status("DETECTION_IN_PROGRESS"))
    cf.add_response("describe_stack_drift_detection_status", status("DETECTION_COMPLETE"))
    cf.add_response(
        "describe_stack_resource_drifts",
        DRIFTS,
        {"StackName": STACK_ID, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    found = detected(aws, recorder)
    cf.assert_no_pending_responses()
    assert found.checked
    assert [(r.logical_id, r.status) for r in found.resources] == [
        ("Alarm", "DELETED"),
        ("ServiceSecurityGroup", "MODIFIED"),
    ]
    rule, description = found.resources[1].differences
    assert (rule.path, rule.actual, rule.kind) == (
        "/SecurityGroupIngress/1",
        {"CidrIp": "0.0.0.0/0", "FromPort": 22},
        "ADD",
    )
    assert (description.expected, description.actual) == ("the service tasks", "edited by hand")
    text = "\n".join(found.lines(reverting=False))
    assert "DRIFTED: 2 resource(s) changed outside CloudFormation" in text
    assert "this update does NOT put them back (REVERT_DRIFT=1" in text
    assert "ServiceSecurityGroup (AWS::EC2::SecurityGroup): MODIFIED" in text
    assert "/GroupDescription: template the service tasks, actual edited by hand" in text
    assert '/SecurityGroupIngress/1: added outside CloudFormation: {"CidrIp": "0.0.0.0/0"' in text
    assert "puts them back" in "\n".join(found.lines(reverting=True))
    # the JSON form round-trips, and the Markdown form carries the same facts
    assert drift.Drift.from_dict(json.loads(json.dumps(found.to_dict()))) == found
    shown = markdown.render(
        {
            "mode": "plan",
            "stacks": [
                {
                    "key": "service",
                    "stack_name": STACK,
                    "outcome": "changes",
                    "drift": found.to_dict(),
                }
            ],
        }
    )
    assert "**service** DRIFTED: 2 resource(s)" in shown
    assert "- /GroupDescription: template the service tasks, actual edited by hand" in shown


def test_stubbed_partial_detection_shows_what_was_checked_and_why_not_the_rest() -> None:
    """Stands in for AWS's DETECTION_FAILED with results for the resources it could check."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("detect_stack_drift", {"StackDriftDetectionId": DETECTION})
    why = "Failed to detect drift on resources [Dashboard]"
    cf.add_response("describe_stack_drift_detection_status", status("DETECTION_FAILED", why))
    cf.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": []})
    found = detected(aws, recorder)
    assert found.checked and found.resources == []
    assert found.lines(reverting=False) == [
        f"no drift: every resource matches its template (partly: {why})"
    ]


def test_stubbed_refused_or_slow_detection_is_one_line_and_the_plan_goes_on() -> None:
    """Stands in for AWS refusing DetectStackDrift (a role without the drift actions) and
    for a detection still running at the deadline."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_client_error("detect_stack_drift", "AccessDenied", "not authorized", 403)
    found = detected(aws, recorder)
    assert found.lines(reverting=False) == [
        "drift not checked: DetectStackDrift refused: AccessDenied: not authorized"
    ]
    cf.add_response("detect_stack_drift", {"StackDriftDetectionId": DETECTION})
    cf.add_response("describe_stack_drift_detection_status", status("DETECTION_IN_PROGRESS"))
    found = detected(aws, recorder, timeout=0.0)
    assert not found.checked
    assert f"detection {DETECTION} still running after 0 s" in found.note


def drift_aware_change_set() -> ChangeSet:
    """A drift-aware change set's answer, as AWS documents it (moto stores no DeploymentMode
    and returns no Drift): the security group's description was edited by hand."""
    change = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "ServiceSecurityGroup",
            "PhysicalResourceId": "sg-0123",
            "ResourceType": "AWS::EC2::SecurityGroup",
            "Replacement": "True",
            "ResourceDriftStatus": "MODIFIED",
            "Details": [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "GroupDescription",
                        "Path": "/Properties/GroupDescription",
                        "RequiresRecreation": "Always",
                        "BeforeValue": "edited by hand",
                        "BeforeValueFrom": "ACTUAL_STATE",
                        "AfterValue": "the service tasks",
                        "AfterValueFrom": "TEMPLATE",
                        "AttributeChangeType": "Modify",
                        "Drift": {
                            "PreviousValue": "the service tasks",
                            "ActualValue": "edited by hand",
                        },
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
            ],
        },
    }
    description = {"StackName": STACK, "Status": "CREATE_COMPLETE", "Parameters": []}
    return ChangeSet(CHANGE_SET, STACK_ID, "deploy-x", "UPDATE", description, [change], False)


def test_a_drift_aware_review_shows_the_three_way_comparison_in_every_form() -> None:
    shown = build(drift_aware_change_set(), "us-east-1", None, set())
    row = shown.rows[0]
    assert row.drift_status == "MODIFIED"
    text = review_text.render(shown)
    expected = (
        "/Properties/GroupDescription: previous template the service tasks, actual edited by "
        "hand -> after the service tasks"
    )
    assert expected in text
    assert "drift: MODIFIED (this drift-aware change set reverts it)" in text
    unsupported = review_text.row_notes(replace(row, drift_status="UNSUPPORTED"))
    assert "drift: UNSUPPORTED (not compared with the actual resource)" in unsupported
    document = {
        "mode": "plan",
        "revert_drift": True,
        "stacks": [
            {
                "key": "service",
                "stack_name": STACK,
                "outcome": "changes",
                "review": json.loads(json.dumps(shown.to_dict())),
            }
        ],
    }
    assert expected in markdown.render(document)


def test_the_digest_covers_every_argument_that_changes_what_executes() -> None:
    base = Content("{}", [{"ParameterKey": "Tag", "ParameterValue": "a"}], {"team": "x"})
    variants = [
        Content("{ }", base.parameters, base.tags),
        Content("{}", [{"ParameterKey": "Tag", "ParameterValue": "b"}], base.tags),
        Content("{}", base.parameters, {"team": "y"}),
        Content("{}", base.parameters, base.tags, ("CAPABILITY_IAM",)),
        Content("{}", base.parameters, base.tags, role_arn="arn:aws:iam::1:role/cfn"),
        Content("{}", base.parameters, base.tags, deployment_mode=changeset.REVERT_DRIFT),
    ]
    digests = {base.digest(), *(v.digest() for v in variants)}
    assert len(digests) == 1 + len(variants)
    name = changeset.change_set_name("abc", base.digest())
    assert name == f"deploy-abc-{base.digest()[:12]}"
    assert changeset.holds(
        {"Description": changeset.description("UPDATE", base.digest())}, base.digest()
    )
    assert not changeset.holds({"Description": "update by deploy.py"}, base.digest())


@pytest.mark.parametrize("revert", [False, True])
def test_on_moto_drift_is_one_line_per_stack_and_skipped_for_a_new_stack(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path, revert: bool
) -> None:
    """moto answers DetectStackDrift with HTTP 500: the plan says so in one line, in every
    form, and goes on; a stack that does not exist yet is not asked."""
    build_dir = support.write(tmp_path / "local")
    args = ["--env", "local", "--build-dir", str(build_dir), "--stack", "registry"]
    args += ["--revert-drift"] if revert else []
    first = deploy(child_env, *args, "--no-execute", "--output", "json")
    assert first.returncode == 2, first.stdout + first.stderr
    assert json.loads(first.stdout)["stacks"][0]["drift"] is None
    assert "drift" not in first.stderr
    assert deploy(child_env, *args, "--yes").returncode == 0
    for output in ("text", "markdown"):  # the document (stdout) says it once
        again = deploy(child_env, *args, "--no-execute", "--output", output)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Traceback" not in again.stdout + again.stderr
        lines = [line for line in again.stdout.splitlines() if "drift not checked" in line.lower()]
        assert len(lines) == 1, again.stdout
        assert "does not implement DetectStackDrift" in lines[0]
    document = json.loads(deploy(child_env, *args, "--no-execute", "--output", "json").stdout)
    assert document["revert_drift"] is revert
    assert document["stacks"][0]["drift"]["checked"] is False
    assert "DetectStackDrift" in document["stacks"][0]["drift"]["note"]


def test_on_moto_a_plans_change_set_is_reused_only_with_the_same_digest(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    """A stack awaiting its first execution: the plan's change set runs when its Description
    carries the digest about to be reviewed; one of the same name made from other content
    (here: by hand, with another digest) is not reused."""
    build_dir = support.write(tmp_path / "local")
    args = ["--env", "local", "--build-dir", str(build_dir), "--stack", "registry"]
    plan = deploy(child_env, *args, "--no-execute", "--output", "json")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    name = json.loads(plan.stdout)["stacks"][0]["review"]["change_set_name"]
    cf = boto3.client("cloudformation", endpoint_url=aws["AWS_ENDPOINT_URL"])
    (summary,) = cf.list_change_sets(StackName="test-registry")["Summaries"]
    assert summary["ChangeSetName"] == name
    assert changeset.CONTENT_MARK in summary["Description"]
    run = deploy(child_env, *args, "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"change set {name} (CREATE)" in run.stdout
    assert "no change set of this content" not in run.stdout

    cf.delete_stack(StackName="test-registry")
    template = (build_dir / "registry.json").read_text()
    cf.create_change_set(
        StackName="test-registry",
        ChangeSetName=name,
        ChangeSetType="CREATE",
        TemplateBody=template,
        Description=changeset.description("CREATE", "0" * 64),
    )
    run = deploy(child_env, *args, "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no change set of this content (1 older one(s) of ours)" in run.stdout


def test_stubbed_a_plan_says_the_drift_above_the_review(tmp_path: Path) -> None:
    """Stands in for AWS's drift detection during a plan (moto has none): detection starts
    before the change set is created, and the drifted resources are said before the review,
    with the warning that this update does not put them back."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    cf.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": DETECTION}, {"StackName": STACK_ID}
    )
    cf.add_response("create_change_set", {"Id": CHANGE_SET, "StackId": STACK_ID})
    added = {
        "Type": "Resource",
        "ResourceChange": {"Action": "Add", "LogicalResourceId": "Topic",
                           "ResourceType": "AWS::SNS::Topic"},
    }  # fmt: skip
    computed = {"ChangeSetName": "deploy-x", "ChangeSetId": CHANGE_SET, "StackId": STACK_ID,
                "StackName": STACK, "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE",
                "CreationTime": "2026-12-06T20:00:00Z", "Changes": [added]}  # fmt: skip
    cf.add_response("describe_change_set", computed)
    cf.add_response("describe_change_set", computed)  # with property values
    cf.add_response("describe_stack_drift_detection_status", status("DETECTION_COMPLETE"))
    cf.add_response("describe_stack_resource_drifts", DRIFTS)
    plan = stubbed.deployer(
        aws, recorder, tmp_path, execute=False, show_review=lambda r: recorder.say("REVIEW")
    )
    result = plan.deploy_stack(StackSpec("service", STACK, tmp_path / "service.json"))
    cf.assert_no_pending_responses()
    assert result.drift is not None and len(result.drift.resources) == 2
    assert result.to_dict()["drift"]["resources"][1]["logical_id"] == "ServiceSecurityGroup"
    drifted = next(i for i, line in enumerate(recorder.lines) if "DRIFTED: 2" in line)
    assert "does NOT put them back" in recorder.lines[drifted]
    assert "GroupDescription: template the service tasks" in recorder.text
    assert drifted < recorder.lines.index("REVIEW")
