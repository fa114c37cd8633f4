"""What moto cannot produce, stood in for with botocore's Stubber on real clients.

moto never fails a resource (no *_FAILED events, no ROLLBACK_COMPLETE), gives no Replacement
or property values in change sets, and never throttles. These tests hand the deployer the
responses AWS gives in those cases; delays are recorded, never slept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import deploy
from deployer import changeset, review, review_text
from deployer.errors import ChangeSetFailed, Declined, DeployFailed, FollowInterrupted
from deployer.follow import Follower
from deployer.manifest import Manifest, StackSpec
from deployer.poll import Backoff
from deployer.run import Deployer, Options

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
STACK = "app-service"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/abc"
CHANGE_SET = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-x/def"
SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/app-cluster/app-service"
UNSTABLE = 'Resource handler returned message: "Service did not stabilize"'
ROLLING_BACK = "The following resource(s) failed to update: [Service]."
NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"


class FakeAws:
    """Stands in for deployer.session.Aws: stubbed clients by service name."""

    region = "us-east-1"

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = botocore.session.get_session().create_client(
                service,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str) -> Any:
        self.stub(service)
        return self.clients[service]

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.delays: list[float] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def sleep(self, delay: float) -> None:
        self.delays.append(delay)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def event(
    n: int, logical: str, status: str, kind: str, reason: str = "", physical: str = ""
) -> dict:
    found = {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical or (STACK_ID if logical == STACK else f"{logical}-id"),
        "ResourceType": kind,
        "Timestamp": T0 + timedelta(seconds=n),
        "ResourceStatus": status,
    }
    if reason:
        found["ResourceStatusReason"] = reason
    return found


def stack(status: str) -> dict:
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "StackId": STACK_ID,
                "CreationTime": T0 - timedelta(days=1),
                "StackStatus": status,
            }
        ]
    }


def deployer(aws: FakeAws, recorder: Recorder, tmp_path: Path, **options: Any) -> Deployer:
    template = tmp_path / "service.json"
    template.write_text(json.dumps({"Resources": {}}))
    spec = StackSpec(key="service", stack_name=STACK, template_path=template)
    manifest = Manifest(
        path=tmp_path / "manifest.json",
        environment="production",
        source="environments/production.toml",
        region="us-east-1",
        termination_protection=True,
        services=(),
        hosted_zone_name=None,
        ssm_parameters={},
        stacks=(spec,),
    )
    defaults: dict[str, Any] = {
        "execute": True,
        "yes": True,
        "revision": "abc",
        "confirm": lambda _question: pytest.fail("asked for confirmation"),
        "environ": {},
        "backoff": Backoff(sleep=recorder.sleep),
    }
    return Deployer(aws, manifest, Options(**{**defaults, **options}), recorder.say)


def update_change_set() -> changeset.ChangeSet:
    description = {"CreationTime": T0, "StackName": STACK, "Status": "CREATE_COMPLETE"}
    return changeset.ChangeSet(CHANGE_SET, STACK_ID, "deploy-x", "UPDATE", description, [], False)


def test_stubbed_failed_update_reports_root_cause_then_ecs_reasons_then_status(
    tmp_path: Path,
) -> None:
    """Stands in for a resource failure with a reason, which moto never produces."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET})
    events = [  # newest first, as DescribeStackEvents returns them
        event(6, STACK, "UPDATE_ROLLBACK_COMPLETE", "AWS::CloudFormation::Stack"),
        event(5, "LogGroup", "UPDATE_FAILED", "AWS::Logs::LogGroup", "Resource update cancelled"),
        event(4, STACK, "UPDATE_ROLLBACK_IN_PROGRESS", "AWS::CloudFormation::Stack", ROLLING_BACK),
        event(3, "Service", "UPDATE_FAILED", "AWS::ECS::Service", UNSTABLE, SERVICE_ARN),
        event(2, "Service", "UPDATE_IN_PROGRESS", "AWS::ECS::Service", physical=SERVICE_ARN),
        event(1, STACK, "UPDATE_IN_PROGRESS", "AWS::CloudFormation::Stack", "User Initiated"),
        event(-5, STACK, "UPDATE_COMPLETE", "AWS::CloudFormation::Stack"),  # an earlier deploy
    ]
    cf.add_response("describe_stack_events", {"StackEvents": events})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))
    cf.add_response("list_change_sets", {"Summaries": []})
    ecs = aws.stub("ecs")
    ecs.add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceName": "app-service",
                    "events": [
                        {
                            "id": "1",
                            "createdAt": T0,
                            "message": "(service app-service) has started 1 tasks.",
                        },
                    ],
                }
            ]
        },
        {"cluster": "app-cluster", "services": [SERVICE_ARN]},
    )
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/app-cluster/0123abcd"
    ecs.add_response("list_tasks", {"taskArns": [task_arn]})
    ecs.add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": task_arn,
                    "stoppedReason": "Task failed ELB health checks",
                    "containers": [{"name": "app", "exitCode": 137}],
                }
            ]
        },
    )

    with pytest.raises(DeployFailed) as failed:
        deployer(aws, recorder, tmp_path)._execute(
            StackSpec("service", STACK, tmp_path / "service.json"), update_change_set()
        )

    report = failed.value.report
    assert report[0] == (
        "Root cause: Service (AWS::ECS::Service) UPDATE_FAILED: Resource handler returned "
        'message: "Service did not stabilize"'
    )
    assert "  event: (service app-service) has started 1 tasks." in report
    assert "  stopped task 0123abcd: Task failed ELB health checks (app: exit 137)" in report
    assert report[-1] == f"Stack {STACK} is now UPDATE_ROLLBACK_COMPLETE."
    assert "UPDATE_COMPLETE" not in recorder.text.replace("ROLLBACK_COMPLETE", "")  # old event
    assert recorder.text.count("UPDATE_FAILED") == 2  # each event printed once
    for stub in aws.stubbers.values():
        stub.assert_no_pending_responses()


def resource_change(
    action: str,
    logical: str,
    kind: str,
    replacement: str = "",
    before: Any = None,
    after: Any = None,
) -> dict:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical, "ResourceType": kind}
    if replacement:
        change["Replacement"] = replacement
        change["Details"] = [
            {
                "Target": {
                    "Attribute": "Properties",
                    "Name": "Name",
                    "RequiresRecreation": "Always",
                },
                "ChangeSource": "DirectModification",
                "Evaluation": "Static",
            }
        ]
    if before is not None:
        change["BeforeContext"] = json.dumps({"Properties": before})
    if after is not None:
        change["AfterContext"] = json.dumps({"Properties": after})
    return {"Type": "Resource", "ResourceChange": change}


def test_stubbed_risky_changes_are_flagged_above_the_table() -> None:
    """Stands in for Replacement and IncludePropertyValues data, which moto leaves out."""
    read = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
    write_all = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}
    both, read_only = {"Statement": [read, write_all]}, {"Statement": [read]}
    first_page = [
        resource_change("Modify", "LoadBalancer", LOAD_BALANCER, "True"),
        resource_change("Modify", "DnsRecord", "AWS::Route53::RecordSet", "Conditional"),
        resource_change("Modify", "Repository", "AWS::ECR::Repository", "True"),
        resource_change("Modify", "AccessLogsBucket", "AWS::S3::Bucket", "True"),
    ]
    second_page = [
        resource_change("Remove", "LogGroup", "AWS::Logs::LogGroup"),
        resource_change("Modify", "AlertingKey", "AWS::KMS::Key", "True"),
        resource_change("Modify", "TaskDefinition", "AWS::ECS::TaskDefinition", "True"),
        resource_change(
            "Modify",
            "TaskRolePolicy",
            "AWS::IAM::Policy",
            "False",
            {"PolicyDocument": {"Statement": [read]}},
            {"PolicyDocument": {"Statement": [read, write_all]}},
        ),
        resource_change(
            "Modify",
            "ServiceSecurityGroup",
            "AWS::EC2::SecurityGroup",
            "False",
            {"SecurityGroupIngress": [https]},
            {"SecurityGroupIngress": [https, ssh]},
        ),
        resource_change(
            "Modify",
            "NarrowedRole",
            "AWS::IAM::Role",
            "False",
            {"Policies": [{"PolicyName": "p", "PolicyDocument": both}]},
            {"Policies": [{"PolicyName": "p", "PolicyDocument": read_only}]},
        ),
    ]
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    common = {
        "ChangeSetId": CHANGE_SET,
        "ChangeSetName": "deploy-x",
        "StackId": STACK_ID,
        "StackName": STACK,
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
    }
    for values in ({}, {"IncludePropertyValues": True}):  # the list that counts, then values
        cf.add_response(
            "describe_change_set",
            {**common, "Changes": first_page, "NextToken": "page2"},
            {"ChangeSetName": CHANGE_SET, **values},
        )
        cf.add_response(
            "describe_change_set",
            {**common, "Changes": second_page},
            {"ChangeSetName": CHANGE_SET, "NextToken": "page2", **values},
        )

    found = changeset.settle(
        aws.cloudformation,
        CHANGE_SET,
        STACK_ID,
        "deploy-x",
        "UPDATE",
        Backoff(sleep=Recorder().sleep),
    )
    shown = review.build(found, "us-east-1", {"Parameters": []}, set())
    text = review_text.render(shown)

    assert len(shown.rows) == 10  # both pages
    flags = "\n".join(risk.line() for risk in shown.risks)
    for expected in (
        "[replace-data] LoadBalancer (AWS::ElasticLoadBalancingV2::LoadBalancer): replaced",
        "[replace-data] DnsRecord (AWS::Route53::RecordSet): may be replaced",
        "[replace-data] Repository (AWS::ECR::Repository): replaced",
        "[replace-data] AccessLogsBucket (AWS::S3::Bucket): replaced",
        "[remove-data] LogGroup (AWS::Logs::LogGroup): removed",
        "[replace-data] AlertingKey (AWS::KMS::Key): replaced",
        "[identity-policy] TaskRolePolicy (AWS::IAM::Policy): allows s3:* on *",
        "[ingress] ServiceSecurityGroup (AWS::EC2::SecurityGroup): inbound tcp port 22 from "
        "0.0.0.0/0 (the whole internet)",
    ):
        assert expected in flags
    assert "TaskDefinition" not in flags  # replaced, but holds no data
    assert "NarrowedRole" not in flags  # a narrowing is not a risk
    assert text.index("RISKY CHANGES") < text.index("Action  Logical ID")
    assert "Name (DirectModification) [recreation: Always]" in text


def test_stubbed_throttling_backs_off_with_jitter_and_keeps_following(tmp_path: Path) -> None:
    """Stands in for CloudFormation's "Rate exceeded", which moto never returns."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    for _ in range(2):
        cf.add_client_error("describe_stack_events", "Throttling", "Rate exceeded", 400)
    done = [
        event(2, STACK, "UPDATE_COMPLETE", "AWS::CloudFormation::Stack"),
        event(1, STACK, "UPDATE_IN_PROGRESS", "AWS::CloudFormation::Stack"),
    ]
    cf.add_response("describe_stack_events", {"StackEvents": done})
    cf.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    follower = Follower(
        aws.cloudformation, STACK_ID, T0, recorder.say, Backoff(sleep=recorder.sleep)
    )

    final = follower.until_settled()

    assert final["StackStatus"] == "UPDATE_COMPLETE"
    assert recorder.text.count("throttled by CloudFormation") == 2
    first, second = recorder.delays[:2]
    assert 0 <= first <= 6 and 0 <= second <= 12  # full jitter under a growing cap
    assert [e["EventId"] for e in follower.events] == ["e1", "e2"]
    cf.assert_no_pending_responses()


def test_stubbed_ctrl_c_while_following_says_how_to_follow_or_cancel_and_exits_130(
    tmp_path: Path,
) -> None:
    """Stands in for a long AWS update (moto finishes every operation at once)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    busy = [event(1, STACK, "UPDATE_IN_PROGRESS", "AWS::CloudFormation::Stack")]
    cf.add_response("describe_stack_events", {"StackEvents": busy})

    def interrupt(_delay: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(FollowInterrupted) as stopped:
        deployer(aws, recorder, tmp_path, backoff=Backoff(sleep=interrupt))._execute(
            StackSpec("service", STACK, tmp_path / "service.json"), update_change_set()
        )

    said: list[str] = []
    assert deploy.report_error(stopped.value, said.append, {}) == 130
    message = "\n".join(said)
    assert f"Stopped following {STACK}; CloudFormation carries on" in message
    assert f"aws cloudformation describe-stack-events --stack-name {STACK}" in message
    assert f"aws cloudformation cancel-update-stack --stack-name {STACK}" in message


@pytest.mark.parametrize(
    ("status", "undo"),
    [
        ("DELETE_IN_PROGRESS", "the delete cannot be cancelled"),
        ("CREATE_IN_PROGRESS", f"aws cloudformation delete-stack --stack-name {STACK}"),
        ("ROLLBACK_IN_PROGRESS", "the rollback cannot be cancelled"),
    ],
)
def test_stubbed_ctrl_c_while_waiting_for_a_busy_stack_gives_advice_for_its_operation(
    tmp_path: Path, status: str, undo: str
) -> None:
    """Stands in for AWS behaviour moto lacks: a stack still busy with another operation
    when the deploy starts (moto finishes every operation at once). Ctrl-C while waiting for
    it says how to follow it, and cancels it only where that operation can be cancelled."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack(status), {"StackName": STACK})
    busy = [event(1, STACK, status, "AWS::CloudFormation::Stack")]
    cf.add_response("describe_stack_events", {"StackEvents": busy}, {"StackName": STACK_ID})

    def interrupt(_delay: float) -> None:
        raise KeyboardInterrupt

    spec = StackSpec("service", STACK, tmp_path / "service.json")
    with pytest.raises(FollowInterrupted) as stopped:
        deployer(aws, recorder, tmp_path, backoff=Backoff(sleep=interrupt)).deploy_stack(spec)
    cf.assert_no_pending_responses()

    said: list[str] = []
    assert deploy.report_error(stopped.value, said.append, {}) == 130
    message = "\n".join(said)
    assert f"{STACK} is {status}: waiting for it to finish" in recorder.text
    assert f"aws cloudformation describe-stack-events --stack-name {STACK}" in message
    assert undo in message
    assert "cancel-update-stack" not in message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidClientTokenId", "The security token included in the request is invalid."),
        ("SignatureDoesNotMatch", "The request signature we calculated does not match..."),
        ("ExpiredToken", "The security token included in the request is expired"),
    ],
)
def test_stubbed_rejected_credentials_stop_at_the_first_read_with_a_credentials_error(
    tmp_path: Path, code: str, message: str
) -> None:
    """Stands in for AWS rejecting credentials (moto's server accepts any): the first call
    of a deploy is a read (DescribeStacks), so nothing is created, and the error says that
    the credentials are the problem and how to fix them."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_client_error("describe_stacks", code, message, http_status_code=403)

    with pytest.raises(ClientError) as rejected:
        deployer(aws, recorder, tmp_path).run([StackSpec("service", STACK, tmp_path / "x.json")])
    cf.assert_no_pending_responses()  # no call after the rejected read

    said: list[str] = []
    document: dict[str, Any] = {}
    assert deploy.report_error(rejected.value, said.append, document) == 1
    assert said[0].startswith("error: AWS credentials did not work for region ")
    assert f"An error occurred ({code})" in said[0]
    assert "Set AWS_PROFILE (or the AWS_* variables)" in said[0]
    assert code in document["error"]


def test_stubbed_a_permission_error_is_not_called_a_credentials_error() -> None:
    """AccessDenied means the credentials work but may not do this: AWS's message says which
    action was denied, and it is shown as AWS gave it."""
    aws = FakeAws()
    aws.stub("cloudformation").add_client_error(
        "describe_stacks", "AccessDenied", "User: arn:aws:iam::1:user/x is not authorized", 403
    )
    with pytest.raises(ClientError) as denied:
        aws.cloudformation.describe_stacks(StackName=STACK)
    said: list[str] = []
    assert deploy.report_error(denied.value, said.append, {}) == 1
    assert said == [f"error: AWS said: {denied.value}"]


def test_stubbed_rollback_complete_stack_is_deleted_only_after_confirmation(tmp_path: Path) -> None:
    """Stands in for ROLLBACK_COMPLETE after a failed create, which moto never reaches."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    asked: list[str] = []

    def say_no(question: str) -> bool:
        asked.append(question)
        return False

    spec = StackSpec("service", STACK, tmp_path / "service.json")
    with pytest.raises(Declined, match="ROLLBACK_COMPLETE"):
        deployer(aws, recorder, tmp_path, yes=False, confirm=say_no).deploy_stack(spec)
    assert asked == [f"Delete stack {STACK}?"]  # and no DeleteStack call was made
    cf.assert_no_pending_responses()

    cf.add_response("delete_stack", {}, {"StackName": STACK_ID})
    gone = [event(9, STACK, "DELETE_COMPLETE", "AWS::CloudFormation::Stack")]
    cf.add_response("describe_stack_events", {"StackEvents": gone})
    cf.add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {STACK_ID} does not exist"
    )
    found, note = deployer(aws, recorder, tmp_path, yes=True)._recreatable(
        spec, stack("ROLLBACK_COMPLETE")["Stacks"][0]
    )
    assert (found, note) == (None, "")
    assert "ROLLBACK_COMPLETE: its first create failed and was rolled back" in recorder.text
    cf.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("status", "reason", "empty"),
    [
        ("FAILED", NO_CHANGES, True),
        ("FAILED", "No updates are to be performed.", True),
        ("FAILED", "Template format error", False),
        # AWS's answer to an Outputs-only (or tags-only) change: complete, zero Changes, and
        # executable; a downstream stack may need the new output
        ("CREATE_COMPLETE", None, False),
    ],
)
def test_empty_change_set_rules(status: str, reason: str | None, empty: bool) -> None:
    description = {"Status": status, "StatusReason": reason, "ChangeSetType": "UPDATE"}
    assert changeset.is_empty(description) is empty


def test_stubbed_termination_protection_is_switched_on_for_non_local(tmp_path: Path) -> None:
    """Stands in for UpdateTerminationProtection, which moto's server answers with a 500.

    CreateChangeSet cannot set it, so it is switched on after the first execution (the
    manifest asks for it in every environment but local), and left alone once on."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response(
        "update_termination_protection",
        {"StackId": STACK_ID},
        {"EnableTerminationProtection": True, "StackName": STACK_ID},
    )
    protected = deployer(aws, recorder, tmp_path)
    protected._protect(stack("CREATE_COMPLETE")["Stacks"][0])
    protected._protect(
        {**stack("UPDATE_COMPLETE")["Stacks"][0], "EnableTerminationProtection": True}
    )
    assert recorder.lines == [f"  termination protection enabled on {STACK}"]
    cf.assert_no_pending_responses()


def test_stubbed_rejected_create_change_set_is_deleted_with_its_empty_stack(tmp_path: Path) -> None:
    """Stands in for a change set AWS fails for a reason other than "no changes" (moto's
    server answers an invalid template with a 500 instead)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
    )
    cf.add_response("create_change_set", {"Id": CHANGE_SET, "StackId": STACK_ID})
    cf.add_response(
        "describe_change_set",
        {"ChangeSetName": "deploy-x", "ChangeSetId": CHANGE_SET, "StackId": STACK_ID,
         "StackName": STACK, "Status": "FAILED", "ExecutionStatus": "UNAVAILABLE",
         "StatusReason": "Template error: instance of Fn::GetAtt references undefined resource"},
    )  # fmt: skip
    cf.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET})
    cf.add_response("delete_stack", {}, {"StackName": STACK_ID})

    spec = StackSpec("service", STACK, tmp_path / "service.json")
    with pytest.raises(ChangeSetFailed, match="undefined resource"):
        deployer(aws, recorder, tmp_path).deploy_stack(spec)
    cf.assert_no_pending_responses()


def test_parameters_compare_by_type_whatever_the_rendering() -> None:
    """A list parameter is rendered "a,b" by AWS and "['a', 'b']" by moto's DescribeStacks;
    an SSM-typed one holds the parameter's name, its value only in ResolvedValue."""
    types = {"SubnetIds": "List<AWS::EC2::Subnet::Id>", "Url": "AWS::SSM::Parameter::Value<String>"}
    stack = {"Parameters": [
        {"ParameterKey": "SubnetIds", "ParameterValue": "['subnet-a', 'subnet-b']"},
        {"ParameterKey": "Url", "ParameterValue": "https://resolved.example"},
        {"ParameterKey": "ImageTag", "ParameterValue": "v1"},
    ]}  # fmt: skip
    change_set = {"Status": "CREATE_COMPLETE", "ChangeSetType": "UPDATE", "Parameters": [
        {"ParameterKey": "SubnetIds", "ParameterValue": "subnet-a,subnet-b"},
        {"ParameterKey": "Url", "ParameterValue": "/app/url"},
        {"ParameterKey": "ImageTag", "ParameterValue": "v1"},
    ]}  # fmt: skip
    assert changeset.parameter_values(change_set, types) == changeset.parameter_values(stack, types)
    change_set["Parameters"][2]["ParameterValue"] = "v2"
    changed = changeset.parameter_values(change_set, types)
    assert changed != changeset.parameter_values(stack, types)
    assert changed["ImageTag"] == "v2"


def test_outputs_are_evaluated_from_resources_when_the_stack_reports_none() -> None:
    """moto gives stacks created through change sets no Outputs (AWS does): the template's
    outputs are evaluated from the stack's resources and parameters, and say so."""
    from deployer import outputs

    template = {
        "Resources": {
            "Service": {"Type": "AWS::ECS::Service"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
        },
        "Outputs": {
            "Url": {"Value": {"Fn::Sub": "https://${Domain}/${AWS::Region}"}},
            "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
            "BucketArn": {"Value": {"Fn::GetAtt": ["Bucket", "Arn"]}},
        },
    }  # fmt: skip
    described = {
        **stack("CREATE_COMPLETE")["Stacks"][0],
        "Parameters": [{"ParameterKey": "Domain", "ParameterValue": "app.example.com"}],
    }
    found = outputs.outputs(
        lambda: {"Service": SERVICE_ARN, "Bucket": "my-bucket"},
        lambda _service: pytest.fail("no describe call needed"),
        described,
        template,
    )
    values = {o.key: o.value for o in found}
    assert values["Url"] == "https://app.example.com/us-east-1"
    assert values["ServiceName"] == "app-service"
    assert values["BucketArn"] is None
    text = outputs.render_text(STACK, found)
    assert "Fn::GetAtt Bucket.Arn (AWS::S3::Bucket) has no describe call here" in text
    assert "DescribeStacks returned no Outputs" in text

    reported = {**described, "Outputs": [{"OutputKey": "Url", "OutputValue": "https://x/"}]}
    found = outputs.outputs(lambda: pytest.fail("not read"), lambda _s: None, reported, template)
    assert [(o.key, o.value, o.source) for o in found] == [("Url", "https://x/", "stack outputs")]


CONTENT = changeset.Content("{}", [], {})


def create_update(aws: FakeAws, content: changeset.Content) -> tuple[str, str]:
    """create_change_set of an UPDATE named deploy-x with `content`, through the stub."""
    return changeset.create_change_set(
        aws.cloudformation,
        stack_name=STACK,
        name="deploy-x",
        change_set_type="UPDATE",
        template={"TemplateBody": "{}"},
        content=content,
    )


def create_request(content: changeset.Content, **more: str) -> dict[str, Any]:
    """The CreateChangeSet request create_update makes; `more`: RoleARN, DeploymentMode."""
    return {
        "StackName": STACK,
        "ChangeSetName": "deploy-x",
        "ChangeSetType": "UPDATE",
        "Parameters": [],
        "Capabilities": [],
        "Tags": [],
        "Description": changeset.description("UPDATE", content.digest()),
        "TemplateBody": "{}",
        **more,
    }


def already_exists(cf: Stubber, arn: str, content: changeset.Content) -> None:
    """AWS's answer to a change set name in use: AlreadyExistsException, then the one of that
    name, made from `content`."""
    cf.add_client_error("create_change_set", "AlreadyExistsException", "ChangeSet deploy-x exists")
    cf.add_response(
        "describe_change_set",
        {
            "ChangeSetId": arn,
            "StackId": STACK_ID,
            "ExecutionStatus": "AVAILABLE",
            "Description": changeset.description("UPDATE", content.digest()),
        },
        {"StackName": STACK, "ChangeSetName": "deploy-x"},
    )


def test_stubbed_plan_change_set_of_the_same_name_is_reused() -> None:
    """Stands in for AWS's AlreadyExistsException (moto accepts duplicate names): the name
    carries the content hash and the Description the whole digest, so the change set `make
    plan` left is the one that runs."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    already_exists(cf, CHANGE_SET, CONTENT)
    assert create_update(aws, CONTENT) == (CHANGE_SET, STACK_ID)
    cf.assert_no_pending_responses()


def test_stubbed_stale_change_set_of_the_same_name_is_replaced_not_reused() -> None:
    """Stands in for AWS's AlreadyExistsException (moto accepts duplicate names). A change
    set of the same name whose Description carries another digest (an older deploy.py's, whose
    digest left out the role or the deployment mode) is deleted and created anew: only the
    content about to be reviewed runs."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    role = "arn:aws:iam::123456789012:role/cfn"
    content = changeset.Content("{}", [], {}, role_arn=role)
    stale = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-x/stale"
    already_exists(cf, stale, CONTENT)
    cf.add_response("delete_change_set", {}, {"ChangeSetName": stale})
    created = {"Id": CHANGE_SET, "StackId": STACK_ID}
    cf.add_response("create_change_set", created, create_request(content, RoleARN=role))
    assert create_update(aws, content) == (CHANGE_SET, STACK_ID)
    cf.assert_no_pending_responses()


def test_stubbed_revert_drift_creates_a_drift_aware_change_set() -> None:
    """Stands in for AWS's CreateChangeSet with DeploymentMode (moto ignores the argument)."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    content = changeset.Content("{}", [], {}, deployment_mode=changeset.REVERT_DRIFT)
    created = {"Id": CHANGE_SET, "StackId": STACK_ID}
    cf.add_response(
        "create_change_set", created, create_request(content, DeploymentMode="REVERT_DRIFT")
    )
    assert create_update(aws, content) == (CHANGE_SET, STACK_ID)
    cf.assert_no_pending_responses()
