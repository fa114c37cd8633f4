"""The access-log bucket: one shape, made in each stack that has something to log.

- The service stack's receives the load balancer's access logs (`add_load_balancer_logs`).
- The static stack's receives the assets bucket's S3 server access logs
  (`add_server_access_logs`).
A bucket cannot log to a bucket of another stack without tying the two stacks' lifecycles
together, so each stack keeps its own; both are `_log_bucket`, differing only in who may write.

Elastic Load Balancing writes from an AWS-owned account that differs per region; AWS publishes
the list (docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html)
and it is kept here as a Mapping. A region missing from it fails at change-set creation, by name,
before anything is created. Log delivery only supports SSE-S3 encryption on this bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awacs.s3 as as3
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import AccountId, FindInMap, Join, Partition, Region, Template, s3

from templates.buckets import private_bucket
from templates.declared import declare, grants

ELB_ACCOUNT_MAPPING = "ElbLogDeliveryAccount"
# Elastic Load Balancing's log-delivery account per region (regions opened before August 2022).
ELB_LOG_DELIVERY_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "ap-northeast-1": "582318560864",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "sa-east-1": "507241528517",
}
LOAD_BALANCER_PREFIX = "load-balancer"
ASSETS_PREFIX = "static-assets"
SKIP_SELF_LOGGING = {
    "checkov": {
        "skip": [
            {
                "id": "CKV_AWS_18",
                "comment": "This is the access-log bucket: logging its own access would write "
                "into itself without end.",
            }
        ]
    }
}


@dataclass(frozen=True)
class AccessLogs:
    bucket: s3.Bucket
    policy: s3.BucketPolicy  # whoever writes logs must wait for it
    prefix: str  # where in the bucket the logs go


def add_load_balancer_logs(template: Template, retention_days: int) -> AccessLogs:
    """The bucket the load balancer writes its access logs to, under LOAD_BALANCER_PREFIX/."""
    template.add_mapping(
        ELB_ACCOUNT_MAPPING,
        {region: {"AccountId": account} for region, account in ELB_LOG_DELIVERY_ACCOUNTS.items()},
    )
    elb_account = FindInMap(ELB_ACCOUNT_MAPPING, Region, "AccountId")
    elb_root = Join("", ["arn:", Partition, ":iam::", elb_account, ":root"])
    logs = _log_bucket(
        template,
        retention_days,
        LOAD_BALANCER_PREFIX,
        lambda bucket, prefix: Statement(
            Sid="LoadBalancerWritesAccessLogs",
            Effect=Allow,
            Principal=Principal("AWS", elb_root),
            Action=[as3.PutObject],
            Resource=[Join("", [bucket.get_att("Arn"), f"/{prefix}/AWSLogs/", AccountId, "/*"])],
        ),
    )
    declare(
        logs.policy, grants(elb_root, "ELB log delivery writes the access logs", [as3.PutObject])
    )
    return logs


def add_server_access_logs(template: Template, retention_days: int) -> AccessLogs:
    """The bucket S3 writes the assets bucket's server access logs to, under ASSETS_PREFIX/."""
    logs = _log_bucket(
        template,
        retention_days,
        ASSETS_PREFIX,
        lambda bucket, prefix: Statement(
            Sid="S3WritesServerAccessLogs",
            Effect=Allow,
            Principal=Principal("Service", "logging.s3.amazonaws.com"),
            Action=[as3.PutObject],
            Resource=[Join("", [bucket.get_att("Arn"), f"/{prefix}/*"])],
            Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
        ),
    )
    declare(
        logs.policy,
        grants("logging.s3.amazonaws.com", "S3 writes the server access logs", [as3.PutObject]),
    )
    return logs


def _log_bucket(
    template: Template,
    retention_days: int,
    prefix: str,
    delivery: Callable[[s3.Bucket, str], Statement],
) -> AccessLogs:
    """The bucket, and its policy letting `delivery` (given the bucket and the prefix) write."""
    bucket = template.add_resource(
        private_bucket(
            "AccessLogsBucket",
            Metadata=SKIP_SELF_LOGGING,
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=retention_days,
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=1
                        ),
                    )
                ]
            ),
        )
    )
    policy = template.add_resource(
        s3.BucketPolicy(
            "AccessLogsBucketPolicy",
            Bucket=bucket.ref(),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17", Statement=[delivery(bucket, prefix)]
            ),
        )
    )
    return AccessLogs(bucket=bucket, policy=policy, prefix=prefix)
