"""The conformance proxy (local_conformance.py) refuses what AWS refuses and moto accepts:
IAM resources without the capability, a TemplateBody over 51,200 bytes. Through the session's
emulator (tests/conftest.py puts the proxy in front of moto), with boto3 as the deployer uses it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local_aws import conformant
from local_conformance import TEMPLATE_BODY_LIMIT, is_proxy

ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    },
}
TOPIC = {"Type": "AWS::SNS::Topic"}


def template(**resources: dict[str, Any]) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def named_role() -> dict[str, Any]:
    return {**ROLE, "Properties": {**ROLE["Properties"], "RoleName": "scalable-app-test"}}


def create_change_set(
    aws: dict[str, str], capabilities: list[str], name: str = "first", **source: str
) -> Any:
    cf = boto3.client("cloudformation")
    return cf.create_change_set(
        StackName=f"conformance-{name}",
        ChangeSetName=name,
        ChangeSetType="CREATE",
        Capabilities=capabilities,
        **source,
    )


def refusal(aws: dict[str, str], capabilities: list[str], **source: str) -> ClientError:
    with pytest.raises(ClientError) as raised:
        create_change_set(aws, capabilities, **source)
    return raised.value


def test_a_role_without_a_capability_is_refused_as_aws_refuses_it(aws: dict[str, str]) -> None:
    error = refusal(aws, [], TemplateBody=template(Role=ROLE)).response
    assert error["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert error["Error"]["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_a_named_role_with_only_capability_iam_is_refused(aws: dict[str, str]) -> None:
    body = template(Role=named_role())
    error = refusal(aws, ["CAPABILITY_IAM"], TemplateBody=body).response["Error"]
    assert error["Code"] == "InsufficientCapabilitiesException"
    assert error["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    assert create_change_set(aws, ["CAPABILITY_NAMED_IAM"], TemplateBody=body, name="y")["Id"]


def test_a_role_with_its_capability_passes(aws: dict[str, str]) -> None:
    assert create_change_set(aws, ["CAPABILITY_IAM"], TemplateBody=template(Role=ROLE))["Id"]
    assert create_change_set(aws, [], TemplateBody=template(Topic=TOPIC), name="x")


def test_an_oversized_template_body_is_refused(aws: dict[str, str]) -> None:
    padded = {f"Topic{i}": TOPIC for i in range(TEMPLATE_BODY_LIMIT // 20)}
    body = template(**padded)
    assert len(body.encode()) > TEMPLATE_BODY_LIMIT
    error = refusal(aws, [], TemplateBody=body).response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"].endswith(
        "at 'templateBody' failed to satisfy constraint: "
        "Member must have length less than or equal to 51200"
    )
    assert error["Error"]["Message"].startswith("1 validation error detected: Value '{")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_template_url_is_read_from_s3_as_aws_reads_it(aws: dict[str, str]) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="t/role.json", Body=template(Role=ROLE).encode())
    url = "https://templates.s3.us-east-1.amazonaws.com/t/role.json"
    error = refusal(aws, [], TemplateURL=url).response["Error"]
    assert error["Code"] == "InsufficientCapabilitiesException"
    assert create_change_set(aws, ["CAPABILITY_IAM"], TemplateURL=url, name="y")["Id"]


def test_create_stack_needs_auto_expand_for_a_transform_and_a_change_set_does_not(
    aws: dict[str, str],
) -> None:
    """AWS: CAPABILITY_AUTO_EXPAND "doesn't apply to creating change sets"."""
    body = json.loads(template(Topic=TOPIC))
    body["Transform"] = "AWS::LanguageExtensions"
    cf = boto3.client("cloudformation")
    with pytest.raises(ClientError) as raised:
        cf.create_stack(StackName="direct", TemplateBody=json.dumps(body))
    assert raised.value.response["Error"]["Message"] == (
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    )


def test_the_session_emulator_is_behind_the_proxy(moto_endpoint: str) -> None:
    assert is_proxy(moto_endpoint)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert not is_proxy(f"http://{host}:{port}")
    finally:
        server.stop()


def test_a_change_set_back_to_the_creation_parameters_executes_through_a_new_proxy() -> None:
    """moto keeps a stack's creation parameters for its "no changes" test; the bridge answers
    from the stack's current parameters, so a proxy started for one run (in front of a moto a
    person runs) knows nothing of earlier runs and still answers as AWS does."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    body = json.dumps(
        {
            "Parameters": {"RoutePath": {"Type": "String"}},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"Path": {"Value": {"Ref": "RoutePath"}}},
        }
    )
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    def deploy(name: str, path: str, kind: str = "UPDATE") -> dict[str, Any]:
        with conformant(f"http://{host}:{port}") as proxy:  # one proxy per run
            cf = boto3.client("cloudformation", "us-east-1", endpoint_url=proxy.url, **keys)
            cf.create_change_set(
                StackName="routed",
                ChangeSetName=name,
                ChangeSetType=kind,
                TemplateBody=body,
                Parameters=[{"ParameterKey": "RoutePath", "ParameterValue": path}],
            )
            cf.get_waiter("change_set_create_complete").wait(
                StackName="routed", ChangeSetName=name, WaiterConfig={"Delay": 0.2}
            )
            cf.execute_change_set(StackName="routed", ChangeSetName=name)
            described: dict[str, Any] = cf.describe_stacks(StackName="routed")["Stacks"][0]
            return described

    try:
        deploy("first", "/api", "CREATE")
        deploy("moved", "/v2")
        back = deploy("back", "/api")  # the waiter raises on a FAILED "no changes"
        assert back["Parameters"] == [{"ParameterKey": "RoutePath", "ParameterValue": "/api"}]
    finally:
        server.stop()
