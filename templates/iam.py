"""The two roles of the task, written with awacs, each granted only what it uses.

- The execution role is ECS's: it pulls the image from this service's repository and creates
  the container's log streams in this service's log group.
- The task role is the application's, and grants nothing: the app calls no AWS API (its logs
  and metrics leave as lines on stdout, its static assets are served by CloudFront or from its
  image). It exists, empty, so that anything granted to the task later is granted to this role
  and never to the execution role.
Both trust ecs-tasks.amazonaws.com only on behalf of this account (confused-deputy guard).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import awacs.ecr as aecr
import awacs.logs as alogs
import awacs.sts as asts
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    ConditionElement,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AccountId, Join, Partition, Region, Template, iam, logs

from templates.declared import declare, permits, trusts
from templates.secrets import read_statements


@dataclass(frozen=True)
class Roles:
    execution: iam.Role
    task: iam.Role


def assumed_by(
    service: str, source_arn: object | None = None, *, source_account: bool = True
) -> PolicyDocument:
    """A trust policy: `service` may take the role on behalf of this account only, and of the
    resources matching `source_arn` when given (confused-deputy guard). `source_account=False`
    where AWS documents the service's trust without the guard (it may not send the key)."""
    conditions: list[ConditionElement] = []
    if source_account:
        conditions.append(StringEquals("aws:SourceAccount", AccountId))
    if source_arn is not None:
        conditions.append(ArnLike("aws:SourceArn", source_arn))
    statement = Statement(
        Effect=Allow, Principal=Principal("Service", service), Action=[asts.AssumeRole]
    )
    if conditions:
        statement.Condition = Condition(conditions)
    return PolicyDocument(Version="2012-10-17", Statement=[statement])


def _assumed_by_ecs_tasks() -> PolicyDocument:
    return assumed_by("ecs-tasks.amazonaws.com")


def repository_arn(repository_name: object) -> Join:
    return Join(
        "", ["arn:", Partition, ":ecr:", Region, ":", AccountId, ":repository/", repository_name]
    )


def registry_token() -> Statement:
    """GetAuthorizationToken has no resource-level permission in IAM: "*" is the only Resource
    AWS accepts. The token alone grants nothing: whoever gets it is also granted pull or push
    actions scoped to one repository."""
    return Statement(
        Sid="GetRegistryToken",
        Effect=Allow,
        Action=[aecr.GetAuthorizationToken],
        Resource=["*"],
    )


PULL_ACTIONS = [aecr.BatchCheckLayerAvailability, aecr.GetDownloadUrlForLayer, aecr.BatchGetImage]


def pull_image(sid: str, repository_name: object) -> Statement:
    """Pull the image layers from one repository (with registry_token(), a full pull)."""
    return Statement(
        Sid=sid, Effect=Allow, Action=PULL_ACTIONS, Resource=[repository_arn(repository_name)]
    )


def _execution_policy(
    repository_name: object, log_group: logs.LogGroup, secrets: Mapping[str, str]
) -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *read_statements(secrets),
            registry_token(),
            pull_image("PullServiceImage", repository_name),
            Statement(
                Sid="WriteContainerLogs",
                Effect=Allow,
                Action=[alogs.CreateLogStream, alogs.PutLogEvents],
                Resource=[log_group.get_att("Arn")],
            ),
        ],
    )


def add_roles(
    template: Template,
    repository_name: object,
    log_group: logs.LogGroup,
    boundary: object,
    secrets: Mapping[str, str] | None = None,
) -> Roles:
    """The task's roles, each capped by `boundary` (templates/boundary.py); the execution role
    alone reads the service's `secrets` (templates/secrets.py)."""
    secrets = secrets or {}
    execution = template.add_resource(
        iam.Role(
            "TaskExecutionRole",
            AssumeRolePolicyDocument=_assumed_by_ecs_tasks(),
            PermissionsBoundary=boundary,
            Policies=[
                iam.Policy(
                    PolicyName="pull-image-and-write-logs",
                    PolicyDocument=_execution_policy(repository_name, log_group, secrets),
                )
            ],
        )
    )
    declare(
        execution,
        trusts("ecs-tasks.amazonaws.com", "ECS assumes the execution role to start the tasks"),
        permits(
            [aecr.GetAuthorizationToken],
            "the registry token: IAM offers no resource-level permission for it; the token "
            "alone pulls nothing, the pull actions are scoped to this service's repository",
            resources=["*"],
        ),
        permits(PULL_ACTIONS, "pulls the service's image, from its repository only"),
        permits(
            [alogs.CreateLogStream, alogs.PutLogEvents],
            "writes the container's logs, to its log group only",
        ),
        *(
            permits(statement.Action, "reads the service's secrets for ECS, each by its ARN")
            for statement in read_statements(secrets)
        ),
    )
    task = template.add_resource(
        iam.Role(
            "TaskRole",
            AssumeRolePolicyDocument=_assumed_by_ecs_tasks(),
            PermissionsBoundary=boundary,
        )
    )
    declare(task, trusts("ecs-tasks.amazonaws.com", "the application's role, for its tasks"))
    return Roles(execution=execution, task=task)
