"""The log group, the buckets (assets and access logs) and who may write into them."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from environments import load
from templates import build_stacks


@cache
def _stack(key: str, env_name: str = "production") -> dict[str, Any]:
    (stack,) = [s for s in build_stacks(load(env_name), "test") if s.key == key]
    return stack.template.to_dict()


def test_log_group_keeps_logs_for_the_configured_days_encrypted() -> None:
    for name in ("production", "local"):
        group = _stack("service", name)["Resources"]["LogGroup"]["Properties"]
        assert group["RetentionInDays"] == load(name).log_retention_days
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["AlertingKey", "Arn"]}
    resources = _stack("service")["Resources"]
    for kept in ("LogGroup", "AlertingKey"):  # logs outlive the stack, and so does their key
        assert (
            resources[kept]["DeletionPolicy"] == resources[kept]["UpdateReplacePolicy"] == "Retain"
        )


@pytest.mark.parametrize(
    ("stack", "bucket"),
    [
        ("static", "StaticAssetsBucket"),
        ("static", "AccessLogsBucket"),
        ("service", "AccessLogsBucket"),
    ],
)
def test_buckets_are_private_versioned_encrypted_and_kept(stack: str, bucket: str) -> None:
    resource = _stack(stack)["Resources"][bucket]
    props = resource["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


def test_access_log_buckets_are_one_shape_differing_only_in_who_writes_and_the_lock() -> None:
    static, service = _stack("static")["Resources"], _stack("service")["Resources"]
    lock = ("ObjectLockEnabled", "ObjectLockConfiguration")
    unlocked = {k: v for k, v in service["AccessLogsBucket"]["Properties"].items() if k not in lock}
    # S3 delivers no server access logs to a bucket with Object Lock: the static one has none.
    assert static["AccessLogsBucket"]["Properties"] == unlocked
    assert service["AccessLogsBucket"]["Properties"]["ObjectLockEnabled"] is True
    rule = service["AccessLogsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == load("production").log_retention_days
    writers = {
        key: [
            s
            for s in resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"][
                "Statement"
            ]
            if s["Effect"] == "Allow"
        ]
        for key, resources in (("static", static), ("service", service))
    }
    assert [s["Principal"] for s in writers["static"]] == [{"Service": "logging.s3.amazonaws.com"}]
    (elb,) = writers["service"]
    assert "ElbLogDeliveryAccount" in str(elb["Principal"])
    for statements in writers.values():
        for statement in statements:
            assert statement["Action"] == ["s3:PutObject"]


def test_assets_bucket_logs_its_access_and_the_load_balancer_too() -> None:
    assets = _stack("static")["Resources"]["StaticAssetsBucket"]
    logging = assets["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": "AccessLogsBucket"},
        "LogFilePrefix": "static-assets/",
    }
    assert assets["DependsOn"] == ["AccessLogsBucketPolicy"]
    resources = _stack("service")["Resources"]
    alb = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert alb["access_logs.s3.bucket"] == {"Ref": "AccessLogsBucket"}
    assert alb["access_logs.s3.prefix"] == "load-balancer"


@pytest.mark.parametrize("env_name", ["production", "local", "staging"])
def test_the_service_stack_has_no_assets_bucket_and_no_cdn(env_name: str) -> None:
    types = [r["Type"] for r in _stack("service", env_name)["Resources"].values()]
    assert types.count("AWS::S3::Bucket") == 1  # the load balancer's access logs
    assert not any(t.startswith("AWS::CloudFront::") for t in types)
