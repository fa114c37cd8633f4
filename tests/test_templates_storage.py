"""The log group, the static assets bucket and the access-log bucket."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from environments import load
from templates import build_stacks


@cache
def _service(env_name: str = "production") -> dict[str, Any]:
    (stack,) = [s for s in build_stacks(load(env_name), "test") if s.key == "service"]
    return stack.template.to_dict()


def test_log_group_keeps_logs_for_the_configured_days_encrypted() -> None:
    for name in ("production", "local"):
        group = _service(name)["Resources"]["LogGroup"]["Properties"]
        assert group["RetentionInDays"] == load(name).log_retention_days
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["AlertingKey", "Arn"]}
    resources = _service()["Resources"]
    for kept in ("LogGroup", "AlertingKey"):  # logs outlive the stack, and so does their key
        assert (
            resources[kept]["DeletionPolicy"] == resources[kept]["UpdateReplacePolicy"] == "Retain"
        )


@pytest.mark.parametrize("bucket", ["StaticAssetsBucket", "AccessLogsBucket"])
def test_buckets_are_private_versioned_encrypted_and_kept(bucket: str) -> None:
    resource = _service()["Resources"][bucket]
    props = resource["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert resource["DeletionPolicy"] == "Retain"


def test_assets_bucket_logs_its_access_and_the_load_balancer_too() -> None:
    resources = _service()["Resources"]
    logging = resources["StaticAssetsBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    alb = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert alb["access_logs.s3.bucket"] == {"Ref": "AccessLogsBucket"}


def test_no_bucket_is_served_to_browsers_directly() -> None:
    types = {r["Type"] for r in _service()["Resources"].values()}
    assert not any(t.startswith("AWS::CloudFront::") for t in types)
    statements = _service()["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]
    for statement in statements["Statement"]:
        assert statement["Action"] == ["s3:PutObject"]
        assert statement["Principal"] != "*"
