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
- the load balancer's logs are kept under S3 Object Lock besides (governance or compliance
  mode, `[logs] object_lock`): each version is locked for `object_lock_days` whatever the
  policy. The load balancer does not write into that bucket: S3 refuses a put without a
  checksum into a bucket with default retention, and AWS documents no way for ELB log
  delivery to send one. It writes into a plain SSE-S3 delivery bucket, which S3 replication
  copies into the locked one (the replica takes the destination's default retention); the
  delivery bucket keeps its copies `DELIVERY_DAYS`.
  The server-access-log bucket cannot be: S3 delivers no server access logs to a bucket with
  Object Lock (docs: object-lock-configure.html), so the policy is its guard;
- noncurrent versions (an overwritten or "deleted" log) are kept `object_lock_days` too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awacs.s3 as as3
import awacs.sts as asts
from awacs.aws import (
    Allow,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AccountId, FindInMap, Join, Partition, Region, Template, iam, s3

from environments.model import LogsConfig
from templates.buckets import private_bucket
from templates.declared import accepts, declare, grants, permits, trusts
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
# How long the delivery bucket keeps what it replicated (replication takes minutes).
DELIVERY_DAYS = 7
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


def add_load_balancer_logs(template: Template, config: LogsConfig, boundary: object) -> AccessLogs:
    """The bucket the load balancer writes its access logs to, under LOAD_BALANCER_PREFIX/:
    the delivery bucket, replicated into the locked AccessLogsBucket."""
    template.add_mapping(
        ELB_ACCOUNT_MAPPING,
        {region: {"AccountId": account} for region, account in ELB_LOG_DELIVERY_ACCOUNTS.items()},
    )
    elb_account = FindInMap(ELB_ACCOUNT_MAPPING, Region, "AccountId")
    elb_root = Join("", ["arn:", Partition, ":iam::", elb_account, ":root"])
    archive = _log_bucket(
        template,
        "AccessLogsBucket",
        (config.retention_days, config.object_lock_days),
        object_lock=s3.ObjectLockConfiguration(
            ObjectLockEnabled="Enabled",
            Rule=s3.ObjectLockRule(
                DefaultRetention=s3.DefaultRetention(
                    Mode=config.object_lock_mode, Days=config.object_lock_days
                )
            ),
        ),
    )
    role = _replication_role(template, archive.bucket, boundary)
    logs = _log_bucket(
        template,
        "AccessLogsDeliveryBucket",
        (DELIVERY_DAYS, 1),
        LOAD_BALANCER_PREFIX,
        lambda bucket, prefix: [
            Statement(
                Sid="LoadBalancerWritesAccessLogs",
                Effect=Allow,
                Principal=Principal("AWS", elb_root),
                Action=[as3.PutObject],
                Resource=[
                    Join("", [bucket.get_att("Arn"), f"/{prefix}/AWSLogs/", AccountId, "/*"])
                ],
            ),
            # The replication role reads the delivery bucket through this policy, not its
            # own: the bucket names the role (its replication), so the role cannot name it.
            Statement(
                Sid="ReplicationReadsTheBucket",
                Effect=Allow,
                Principal=Principal("AWS", role.get_att("Arn")),
                Action=REPLICATION_SOURCE_BUCKET,
                Resource=[bucket.get_att("Arn")],
            ),
            Statement(
                Sid="ReplicationReadsTheLogs",
                Effect=Allow,
                Principal=Principal("AWS", role.get_att("Arn")),
                Action=REPLICATION_SOURCE_OBJECTS,
                Resource=[Join("", [bucket.get_att("Arn"), "/*"])],
            ),
        ],
        ReplicationConfiguration=s3.ReplicationConfiguration(
            Role=role.get_att("Arn"),
            Rules=[
                s3.ReplicationConfigurationRules(
                    Id="into-the-locked-bucket",
                    Status="Enabled",
                    Priority=1,
                    Filter=s3.ReplicationRuleFilter(Prefix=""),
                    # A delete is not copied: the locked bucket keeps every log.
                    DeleteMarkerReplication=s3.DeleteMarkerReplication(Status="Disabled"),
                    Destination=s3.ReplicationConfigurationRulesDestination(
                        Bucket=archive.bucket.get_att("Arn")
                    ),
                )
            ],
        ),
    )
    declare(
        logs.policy,
        grants(elb_root, "ELB log delivery writes the access logs", [as3.PutObject]),
        grants(
            role.get_att("Arn"),
            "S3 replication reads the delivered logs, to copy them into the locked bucket",
            REPLICATION_SOURCE_BUCKET + REPLICATION_SOURCE_OBJECTS,
        ),
    )
    return logs


# What S3 replication reads from the source and writes to the destination (S3 User Guide,
# "Setting up permissions" for replication; the retention and legal-hold reads for a
# destination with Object Lock).
REPLICATION_SOURCE_BUCKET = [as3.GetReplicationConfiguration, as3.ListBucket]
REPLICATION_SOURCE_OBJECTS = [
    as3.GetObjectVersionForReplication,
    as3.GetObjectVersionAcl,
    as3.GetObjectVersionTagging,
    as3.GetObjectRetention,
    as3.GetObjectLegalHold,
]
REPLICATION_DESTINATION_OBJECTS = [as3.ReplicateObject, as3.ReplicateTags]
REPLICATION_ACTIONS = (
    REPLICATION_SOURCE_BUCKET + REPLICATION_SOURCE_OBJECTS + REPLICATION_DESTINATION_OBJECTS
)


def _replication_role(template: Template, destination: s3.Bucket, boundary: object) -> iam.Role:
    """The role S3 replicates the delivery bucket with: it writes into the locked bucket (its
    reads of the delivery bucket are granted by that bucket's policy)."""
    role: iam.Role = template.add_resource(
        iam.Role(
            "AccessLogsReplicationRole",
            PermissionsBoundary=boundary,
            AssumeRolePolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Principal=Principal("Service", "s3.amazonaws.com"),
                        Action=[asts.AssumeRole],
                        Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
                    )
                ],
            ),
            Policies=[
                iam.Policy(
                    PolicyName="replicate-into-the-locked-bucket",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(
                                Sid="WriteTheLockedCopies",
                                Effect=Allow,
                                Action=REPLICATION_DESTINATION_OBJECTS,
                                Resource=[Join("", [destination.get_att("Arn"), "/*"])],
                            )
                        ],
                    ),
                )
            ],
        )
    )
    declare(
        role,
        trusts("s3.amazonaws.com", "S3 replicates the access logs into the locked bucket"),
        permits(REPLICATION_DESTINATION_OBJECTS, "writes them into the locked bucket only"),
    )
    return role


def add_server_access_logs(template: Template, config: LogsConfig) -> AccessLogs:
    """The bucket S3 writes the assets bucket's server access logs to, under ASSETS_PREFIX/.
    No Object Lock: S3 delivers no server access logs to such a bucket."""
    logs = _log_bucket(
        template,
        "AccessLogsBucket",
        (config.retention_days, config.object_lock_days),
        ASSETS_PREFIX,
        lambda bucket, prefix: [
            Statement(
                Sid="S3WritesServerAccessLogs",
                Effect=Allow,
                Principal=Principal("Service", "logging.s3.amazonaws.com"),
                Action=[as3.PutObject],
                Resource=[Join("", [bucket.get_att("Arn"), f"/{prefix}/*"])],
                Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
            )
        ],
    )
    declare(
        logs.policy,
        grants("logging.s3.amazonaws.com", "S3 writes the server access logs", [as3.PutObject]),
    )
    return logs


def _log_bucket(
    template: Template,
    title: str,
    days: tuple[int, int],
    prefix: str = "",
    delivery: Callable[[s3.Bucket, str], list[Statement]] | None = None,
    object_lock: s3.ObjectLockConfiguration | None = None,
    **properties: object,
) -> AccessLogs:
    """The bucket `title`, and its policy letting `delivery` (given the bucket and the prefix)
    write. `days`: how long a log and an overwritten or deleted one's version are kept."""
    locked = (
        {}
        if object_lock is None
        else {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": object_lock,
        }
    )
    current_days, noncurrent_days = days
    bucket = template.add_resource(
        private_bucket(
            title,
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=current_days,
                        # An overwritten or deleted log stays as long as a locked one.
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=noncurrent_days
                        ),
                    )
                ]
            ),
            **locked,
            **properties,
        )
    )
    declare(bucket, NO_SELF_LOGGING)
    statements = [] if delivery is None else delivery(bucket, prefix)
    policy = template.add_resource(
        s3.BucketPolicy(
            f"{title}Policy",
            Bucket=bucket.ref(),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[*statements, _deny_erasing_logs(bucket), deny_without_tls(bucket)],
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
