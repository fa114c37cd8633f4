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
        group = _stack("svc-web", name)["Resources"]["LogGroup"]["Properties"]
        assert group["RetentionInDays"] == load(name).log_retention_days
        # The environment stack's key, by its ARN built from the key ID it passes.
        assert "AlertingKeyId" in str(group["KmsKeyId"]) and ":key/" in str(group["KmsKeyId"])
    service, environment = _stack("svc-web")["Resources"], _stack("environment")["Resources"]
    # logs outlive the stack, and so does their key
    for resources, kept in ((service, "LogGroup"), (environment, "AlertingKey")):
        assert (
            resources[kept]["DeletionPolicy"] == resources[kept]["UpdateReplacePolicy"] == "Retain"
        )


@pytest.mark.parametrize(
    ("stack", "bucket"),
    [
        ("static", "StaticAssetsBucket"),
        ("static", "AccessLogsBucket"),
        ("environment", "AccessLogsBucket"),
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
    static, service = _stack("static")["Resources"], _stack("environment")["Resources"]
    lock = ("ObjectLockEnabled", "ObjectLockConfiguration")
    unlocked = {k: v for k, v in service["AccessLogsBucket"]["Properties"].items() if k not in lock}
    # S3 delivers no server access logs to a bucket with Object Lock: the static one has none.
    assert static["AccessLogsBucket"]["Properties"] == unlocked
    assert service["AccessLogsBucket"]["Properties"]["ObjectLockEnabled"] is True
    rule = service["AccessLogsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == load("production").log_retention_days

    def writers(resources: dict[str, Any], policy: str) -> list[dict[str, Any]]:
        statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        return [s for s in statements if s["Effect"] == "Allow" and "s3:PutObject" in s["Action"]]

    static_writers = writers(static, "AccessLogsBucketPolicy")
    assert [s["Principal"] for s in static_writers] == [{"Service": "logging.s3.amazonaws.com"}]
    assert writers(service, "AccessLogsBucketPolicy") == []  # only replication writes the lock
    (elb,) = writers(service, "AccessLogsDeliveryBucketPolicy")
    assert "ElbLogDeliveryAccount" in str(elb["Principal"])
    assert elb["Action"] == ["s3:PutObject"]


def test_the_load_balancer_logs_into_a_plain_bucket_replicated_into_the_locked_one() -> None:
    """S3 refuses a put without a checksum into a bucket with default Object Lock retention,
    and ELB log delivery is documented to send none: it writes into a plain SSE-S3 bucket,
    which S3 replication copies into the locked one."""
    resources = _stack("environment")["Resources"]
    delivery = resources["AccessLogsDeliveryBucket"]["Properties"]
    assert "ObjectLockEnabled" not in delivery
    (encryption,) = delivery["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert delivery["VersioningConfiguration"] == {"Status": "Enabled"}  # replication needs it
    replication = delivery["ReplicationConfiguration"]
    assert replication["Role"] == {"Fn::GetAtt": ["AccessLogsReplicationRole", "Arn"]}
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Destination"]["Bucket"] == {"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}  # no delete is copied
    role = resources["AccessLogsReplicationRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    (policy,) = role["Policies"]
    (write,) = policy["PolicyDocument"]["Statement"]
    assert write["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}, "/*"]]}
    ]
    assert set(write["Action"]) == {"s3:ReplicateObject", "s3:ReplicateTags"}
    statements = resources["AccessLogsDeliveryBucketPolicy"]["Properties"]["PolicyDocument"]
    reads = [
        s
        for s in statements["Statement"]
        if s.get("Principal") == {"AWS": {"Fn::GetAtt": ["AccessLogsReplicationRole", "Arn"]}}
    ]
    assert {a for s in reads for a in s["Action"]} >= {
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
    }


def test_assets_bucket_logs_its_access_and_the_load_balancer_too() -> None:
    assets = _stack("static")["Resources"]["StaticAssetsBucket"]
    logging = assets["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": "AccessLogsBucket"},
        "LogFilePrefix": "static-assets/",
    }
    assert assets["DependsOn"] == ["AccessLogsBucketPolicy"]
    resources = _stack("environment")["Resources"]
    alb = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert alb["access_logs.s3.bucket"] == {"Ref": "AccessLogsDeliveryBucket"}
    assert alb["access_logs.s3.prefix"] == "load-balancer"


@pytest.mark.parametrize("env_name", ["production", "local", "staging"])
def test_the_service_stack_has_no_assets_bucket_and_no_cdn(env_name: str) -> None:
    types = [r["Type"] for r in _stack("environment", env_name)["Resources"].values()]
    assert (
        types.count("AWS::S3::Bucket") == 2
    )  # the load balancer's access logs, delivered and kept
    assert not any(t.startswith("AWS::CloudFront::") for t in types)
    service = [r["Type"] for r in _stack("svc-web", env_name)["Resources"].values()]
    assert not any(t.startswith(("AWS::S3::", "AWS::CloudFront::")) for t in service)
