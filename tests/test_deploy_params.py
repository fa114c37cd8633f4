"""Parameters filled from another stack's Output (`{"stack": ..., "output": ...}` in the
manifest): on moto, whose change-set-created stacks report no Outputs, the template's Output
is evaluated from the stack's resources; with a Stubber, a stack that reports its Outputs (as
AWS does) is taken at its word without reading its resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from troposphere import Output, Parameter, Sub, Template, s3

from deployer import manifest as manifest_module
from deployer.manifest import FromStack
from deployer.params import Resolver, UpstreamMissing

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/test-static/1"


def _upstream() -> Template:
    template = Template()
    bucket = template.add_resource(s3.Bucket("StaticAssetsBucket"))
    template.add_output(Output("AssetsBaseUrl", Value=Sub("https://${StaticAssetsBucket}.example")))
    template.add_output(Output("BucketArn", Value=bucket.get_att("Arn")))  # no describe call
    return template


def _downstream() -> Template:
    template = Template()
    template.add_parameter(Parameter("StaticUrl", Type="String"))
    template.add_resource(s3.Bucket("Unused"))
    return template


def _write(directory: Path) -> manifest_module.Manifest:
    stack = {"capabilities": [], "parameters": {}, "parameters_from_env": {}, "tags": {}}
    data = {
        "environment": "local",
        "region": "us-east-1",
        "termination_protection": False,
        "image": {"repository_name": "r", "tag": "t"},
        "static_assets": {
            "stack": "static",
            "resource": "StaticAssetsBucket",
            "source": "service/static",
            "prefix": "t/",
        },
        "stacks": [
            {**stack, "key": "static", "stack_name": "test-static", "template": "static.json"},
            {
                **stack,
                "key": "service",
                "stack_name": "test-service",
                "template": "service.json",
                "depends_on": ["static"],
                "parameters_from_stacks": {
                    "StaticUrl": {"stack": "static", "output": "AssetsBaseUrl"},
                    "Broken": {"stack": "static", "output": "BucketArn"},
                },
            },
        ],
    }
    for name, template in (("static", _upstream()), ("service", _downstream())):
        (directory / f"{name}.json").write_text(json.dumps(template.to_dict()))
    (directory / "manifest.json").write_text(json.dumps(data))
    return manifest_module.load(directory)


def test_manifest_reads_the_output_form_and_where_assets_go(tmp_path: Path) -> None:
    manifest = _write(tmp_path)
    refs = manifest.stack("service").parameters_from_stacks
    assert refs["StaticUrl"] == FromStack("static", (), "AssetsBaseUrl")
    assert manifest.static_assets is not None
    assert (manifest.static_assets.stack, manifest.static_assets.prefix) == ("static", "t/")
    assert manifest.static_assets.source == Path("service/static")


def _deploy_through_a_change_set(cf: Any, body: str) -> None:
    created = cf.create_change_set(
        StackName="test-static", ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=body
    )
    cf.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig={"Delay": 0.1}
    )
    cf.execute_change_set(ChangeSetName=created["Id"])
    cf.get_waiter("stack_create_complete").wait(
        StackName="test-static", WaiterConfig={"Delay": 0.1}
    )


def test_output_is_evaluated_from_resources_when_the_stack_reports_none(
    aws: dict[str, str], tmp_path: Path
) -> None:
    manifest = _write(tmp_path)
    cf = boto3.client("cloudformation")
    resolver = Resolver(cf, manifest, {}, boto3.client)
    with pytest.raises(UpstreamMissing, match="test-static does not exist yet"):
        resolver.output("static", "AssetsBaseUrl")
    _deploy_through_a_change_set(cf, manifest.stack("static").template_body())
    assert not cf.describe_stacks(StackName="test-static")["Stacks"][0].get("Outputs")
    (bucket,) = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    ref = manifest.stack("service").parameters_from_stacks["StaticUrl"]
    assert resolver.from_stack(ref) == f"https://{bucket}.example"
    # An output that cannot be evaluated here waits, and says why.
    with pytest.raises(UpstreamMissing, match=r"no output BucketArn yet .*not resolvable"):
        resolver.output("static", "BucketArn")


def test_output_the_stack_reports_is_taken_as_is(tmp_path: Path) -> None:
    """Stands in for AWS, which reports Outputs of change-set-created stacks (moto does not)."""
    manifest = _write(tmp_path)
    cf = boto3.client("cloudformation", region_name="us-east-1")
    stack = {
        "StackName": "test-static",
        "StackId": STACK_ID,
        "StackStatus": "CREATE_COMPLETE",
        "CreationTime": "2026-01-01T00:00:00Z",
        "Outputs": [{"OutputKey": "AssetsBaseUrl", "OutputValue": "https://d1.cloudfront.net"}],
    }
    with Stubber(cf) as stubber:  # no DescribeStackResources expected
        stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "test-static"})
        resolver = Resolver(cf, manifest, {}, boto3.client)
        assert resolver.output("static", "AssetsBaseUrl") == "https://d1.cloudfront.net"
        assert resolver.output("static", "AssetsBaseUrl") == "https://d1.cloudfront.net"  # cached
        stubber.assert_no_pending_responses()
