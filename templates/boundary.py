"""Permissions boundaries: the most any role the templates create may ever do.

- The **workload boundary** caps the roles the app stacks create (the tasks' execution and task
  roles, the flow-log role): pull this environment's image, write to its log groups. The
  CloudFormation service role may create or change a role only with this boundary on it
  (`iam:PermissionsBoundary`), so whoever can deploy cannot mint a role that does more.
- The **ci boundary** caps the ci stack's own roles: the services they use, never a change to
  a boundary, never a role without the workload boundary, never the ci stack's own roles.

Where they live: an environment with a `[ci]` table gets both in its ci stack, named, under
the `/ci/` path that nothing in the app stacks may touch; its app stacks name the workload
boundary by ARN (so the ci stack is deployed first, as it already must be for its roles).
An environment with no `[ci]` table is deployed with a person's own credentials: each app stack
that creates a role holds its own copy of the workload boundary (unnamed), and its roles carry
that one.
"""

from __future__ import annotations

from collections.abc import Mapping

import awacs.ecr as aecr
import awacs.iam as aiam
import awacs.logs as alogs
from awacs.aws import Action, Allow, ArnNotEquals, Condition, Deny, PolicyDocument, Statement
from troposphere import Sub, Template, iam

from templates.access_logs import REPLICATION_ACTIONS
from templates.declared import accepts, declare, permits
from templates.iam import PULL_ACTIONS, pull_image, registry_token
from templates.progressive import READS, RULES, TARGETS, shift_traffic_policy
from templates.secrets import read_statements

BOUNDARY_PATH = "/ci/"
CI_BOUNDARY_RISK = accepts(
    "<service>:* on Resource * (a permissions boundary)",
    "a boundary grants nothing: it caps the ci roles at the services their own policies "
    "use, and those scope every action; its Deny statements forbid changing a boundary, "
    "the ci roles, or a role without the workload boundary",
    checkov=("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111"),
)
WORKLOAD_BOUNDARY = "WorkloadBoundary"
CI_BOUNDARY = "CiBoundary"


def workload_boundary_name(prefix: str) -> str:
    return f"{prefix}-workload-boundary"


def workload_boundary_arn(prefix: str) -> Sub:
    """The ci stack's workload boundary, as the app stacks and the ci stack's conditions name it."""
    return Sub(
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{BOUNDARY_PATH}"
        f"{workload_boundary_name(prefix)}"
    )


def _load_balancing_arns(kind: str) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:" + kind
    )


def workload_boundary_document(
    prefix: str,
    repository: str,
    secrets: Mapping[str, str] | None = None,
    shifts_traffic: bool = False,
) -> PolicyDocument:
    """What the app's roles may do at most: the union of what the execution role, the
    flow-log role and the access logs' replication role use, on this environment's repository,
    log groups and buckets only; with `shifts_traffic` (a progressive service), what ECS's
    traffic-shift role uses, on the target groups and Application Load Balancer rules of this
    account and region (CloudFormation names both after the load balancer and a random suffix,
    never after the app: the role's own policy names its two of each)."""
    log_groups = Sub(
        f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}-*"
    )
    # CloudFormation names a bucket after its stack: <prefix>-<stack>-<logical id>-<random>.
    buckets = Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}-*")
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            registry_token(),
            pull_image("PullThisEnvironmentsImage", repository),
            Statement(
                Sid="WriteThisEnvironmentsLogs",
                Effect=Allow,
                Action=[alogs.CreateLogStream, alogs.PutLogEvents, alogs.DescribeLogStreams],
                Resource=[log_groups],
            ),
            # A boundary also caps what a bucket policy grants to the role's ARN: the
            # replication role's reads of the delivery bucket need to be inside it.
            Statement(
                Sid="ReplicateThisEnvironmentsAccessLogs",
                Effect=Allow,
                Action=REPLICATION_ACTIONS,
                Resource=[buckets, Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}-*/*")],
            ),
            # The services' secrets, each by its ARN: what their execution roles read.
            *read_statements(secrets or {}, "ReadTheServicesSecrets"),
            *(
                shift_traffic_policy(
                    [_load_balancing_arns("targetgroup/*/*")],
                    [_load_balancing_arns("listener-rule/app/*/*/*/*")],
                    sid_prefix="Ecs",
                )
                if shifts_traffic
                else []
            ),
        ],
    )


def _declared(
    policy: iam.ManagedPolicy, secrets: Mapping[str, str] | None, shifts_traffic: bool = False
) -> iam.ManagedPolicy:
    """A boundary grants nothing by itself (it only caps the roles that carry it), but the
    review reads any policy as a grant: each statement is declared, with why."""
    cap = "a permissions boundary grants nothing: it caps the app's roles at"
    declare(
        policy,
        permits([aecr.GetAuthorizationToken], f"{cap} the registry token", resources=["*"]),
        permits(PULL_ACTIONS, f"{cap} pulling this environment's image"),
        permits(
            [alogs.CreateLogStream, alogs.PutLogEvents, alogs.DescribeLogStreams],
            f"{cap} writing this environment's log groups",
        ),
        permits(REPLICATION_ACTIONS, f"{cap} replicating this environment's access logs"),
        *(
            permits(statement.Action, f"{cap} reading the services' secrets, each by its ARN")
            for statement in read_statements(secrets or {})
        ),
    )
    if shifts_traffic:
        declare(
            policy,
            permits(READS, f"{cap} ECS's reads of the load balancer", resources=["*"]),
            permits(TARGETS, f"{cap} ECS registering tasks in this account's target groups"),
            permits(RULES, f"{cap} ECS shifting this account's listener rules' weights"),
        )
    return policy


def add_workload_boundary(
    template: Template,
    prefix: str,
    repository: str,
    secrets: Mapping[str, str] | None = None,
    shifts_traffic: bool = False,
    named: bool = False,
) -> object:
    """The workload boundary, added to `template`; returns what its roles' PermissionsBoundary
    takes. `named`: the ci stack's, with the name and path the app stacks name it by; else a
    stack's own copy (an environment with no ci stack)."""
    naming: dict[str, object] = (
        {"ManagedPolicyName": workload_boundary_name(prefix), "Path": BOUNDARY_PATH}
        if named
        else {}
    )
    whose = "a role the app's stacks create" if named else "a role of this stack"
    policy = template.add_resource(
        iam.ManagedPolicy(
            WORKLOAD_BOUNDARY,
            **naming,
            Description=f"{prefix}: the most {whose} may do",
            PolicyDocument=workload_boundary_document(prefix, repository, secrets, shifts_traffic),
        )
    )
    return _declared(policy, secrets, shifts_traffic).ref()


def add_ci_boundary(
    template: Template, prefix: str, services: list[str], workload_boundary: object
) -> object:
    """The ci roles' boundary: the services their policies name (their policies scope each
    action; this caps them), and, whatever a policy says, no boundary tampering."""
    own_policies = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{BOUNDARY_PATH}*")
    own_roles = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{BOUNDARY_PATH}*")
    role_changes = [
        aiam.CreateRole,
        aiam.PutRolePolicy,
        aiam.AttachRolePolicy,
        aiam.DetachRolePolicy,
        aiam.DeleteRolePolicy,
        aiam.PutRolePermissionsBoundary,
    ]
    policy = template.add_resource(
        iam.ManagedPolicy(
            CI_BOUNDARY,
            ManagedPolicyName=f"{prefix}-ci-boundary",
            Path=BOUNDARY_PATH,
            Description=f"{prefix}: the most a ci role may do",
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    # A boundary only caps: each role's own policies grant, action by action
                    # and resource by resource. The cap is by service.
                    Statement(
                        Sid="TheServicesTheCiRolesUse",
                        Effect=Allow,
                        Action=[Action(service, "*") for service in sorted(services)],
                        Resource=["*"],
                    ),
                    Statement(
                        Sid="NeverChangeABoundaryOrTheCiRoles",
                        Effect=Deny,
                        Action=[
                            aiam.CreatePolicyVersion,
                            aiam.DeletePolicy,
                            aiam.DeletePolicyVersion,
                            aiam.SetDefaultPolicyVersion,
                            aiam.DeleteRolePermissionsBoundary,
                        ],
                        Resource=[own_policies, own_roles],
                    ),
                    Statement(
                        Sid="NeverTheCiRoles",
                        Effect=Deny,
                        Action=[*role_changes, aiam.UpdateAssumeRolePolicy, aiam.DeleteRole],
                        Resource=[own_roles],
                    ),
                    Statement(
                        Sid="RolesOnlyWithTheWorkloadBoundary",
                        Effect=Deny,
                        Action=role_changes,
                        Resource=["*"],
                        Condition=Condition(
                            ArnNotEquals("iam:PermissionsBoundary", workload_boundary)
                        ),
                    ),
                ],
            ),
        )
    )
    declare(policy, CI_BOUNDARY_RISK)
    return policy.ref()
