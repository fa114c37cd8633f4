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

Nobody erases a log before its time:
- every log bucket's policy denies s3:DeleteObject and s3:DeleteObjectVersion to everyone
  (lifecycle expiry, which is S3's own, is not subject to it): erasing a log first takes
  rewriting the policy, an administrator's act that CloudTrail records;
- the load balancer's bucket is under S3 Object Lock besides (governance or compliance mode,
  `[logs] object_lock`): each version is locked for `object_lock_days` whatever the policy.
  The server-access-log bucket cannot be: S3 delivers no server access logs to a bucket with
  Object Lock (docs: object-lock-configure.html), so the policy is its guard;
- noncurrent versions (an overwritten or "deleted" log) are kept `object_lock_days` too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awacs.s3 as as3
from awacs.aws import Allow, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import AccountId, FindInMap, Join, Partition, Region, Template, s3

from environments.model import LogsConfig
from templates.buckets import private_bucket
from templates.declared import accepts, declare, grants
from templates.tls_only import deny_without_tls

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
NO_SELF_LOGGING = accepts(
    "The access-log bucket has no server access logging of its own",
    "This is the access-log bucket: logging its own access would write into itself without end.",
    checkov=("CKV_AWS_18",),
)


@dataclass(frozen=True)
class AccessLogs:
    bucket: s3.Bucket
    policy: s3.BucketPolicy  # whoever writes logs must wait for it
    prefix: str  # where in the bucket the logs go


def add_load_balancer_logs(template: Template, config: LogsConfig) -> AccessLogs:
    """The bucket the load balancer writes its access logs to, under LOAD_BALANCER_PREFIX/."""
    template.add_mapping(
        ELB_ACCOUNT_MAPPING,
        {region: {"AccountId": account} for region, account in ELB_LOG_DELIVERY_ACCOUNTS.items()},
    )
    elb_account = FindInMap(ELB_ACCOUNT_MAPPING, Region, "AccountId")
    elb_root = Join("", ["arn:", Partition, ":iam::", elb_account, ":root"])
    logs = _log_bucket(
        template,
        config,
        LOAD_BALANCER_PREFIX,
        lambda bucket, prefix: Statement(
            Sid="LoadBalancerWritesAccessLogs",
            Effect=Allow,
            Principal=Principal("AWS", elb_root),
            Action=[as3.PutObject],
            Resource=[Join("", [bucket.get_att("Arn"), f"/{prefix}/AWSLogs/", AccountId, "/*"])],
        ),
        object_lock=s3.ObjectLockConfiguration(
            ObjectLockEnabled="Enabled",
            Rule=s3.ObjectLockRule(
                DefaultRetention=s3.DefaultRetention(
                    Mode=config.object_lock_mode, Days=config.object_lock_days
                )
            ),
        ),
    )
    declare(
        logs.policy, grants(elb_root, "ELB log delivery writes the access logs", [as3.PutObject])
    )
    return logs


def add_server_access_logs(template: Template, config: LogsConfig) -> AccessLogs:
    """The bucket S3 writes the assets bucket's server access logs to, under ASSETS_PREFIX/.
    No Object Lock: S3 delivers no server access logs to such a bucket."""
    logs = _log_bucket(
        template,
        config,
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
    config: LogsConfig,
    prefix: str,
    delivery: Callable[[s3.Bucket, str], Statement],
    object_lock: s3.ObjectLockConfiguration | None = None,
) -> AccessLogs:
    """The bucket, and its policy letting `delivery` (given the bucket and the prefix) write."""
    locked = (
        {}
        if object_lock is None
        else {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": object_lock,
        }
    )
    bucket = template.add_resource(
        private_bucket(
            "AccessLogsBucket",
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=config.retention_days,
                        # An overwritten or deleted log stays as long as a locked one.
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=config.object_lock_days
                        ),
                    )
                ]
            ),
            **locked,
        )
    )
    declare(bucket, NO_SELF_LOGGING)
    policy = template.add_resource(
        s3.BucketPolicy(
            "AccessLogsBucketPolicy",
            Bucket=bucket.ref(),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    delivery(bucket, prefix),
                    _deny_erasing_logs(bucket),
                    deny_without_tls(bucket),
                ],
            ),
        )
    )
    return AccessLogs(bucket=bucket, policy=policy, prefix=prefix)


def _deny_erasing_logs(bucket: s3.Bucket) -> Statement:
    return Statement(
        Sid="DenyErasingLogs",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[as3.DeleteObject, as3.DeleteObjectVersion],
        Resource=[Join("", [bucket.get_att("Arn"), "/*"])],
    )
