"""The ci stack: GitHub Actions plans and deploys the environment with short-lived credentials.

- GitHub's OIDC provider (one per account: an environment may name the one another made);
- the deploy role, assumed through it only by this repository's main branch and its GitHub
  environment of this name (where the production approval lives);
- the plan role, assumed only by this repository's pull requests: it creates, reads and
  deletes change sets, and executes nothing;
- the CloudFormation service role that both pass as the change sets' RoleARN: it, not the CI
  roles, manages the stacks' resources, and only the resource types the stacks hold.

The CI roles may touch only this environment's app stacks (never this ci stack), its ECR
repository and static assets bucket, and may pass no role but the CloudFormation one.
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.acm as aacm
import awacs.cloudformation as acfn
import awacs.cloudwatch as acloudwatch
import awacs.ec2 as aec2
import awacs.ecr as aecr
import awacs.ecs as aecs
import awacs.elasticloadbalancing as aelb
import awacs.iam as aiam
import awacs.route53 as aroute53
import awacs.s3 as as3
import awacs.sns as asns
import awacs.ssm as assm
import awacs.sts as asts
from awacs.aws import (
    Action,
    Allow,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import Output, Sub, Template, iam

from environments.model import CiConfig
from manifest import TEMPLATE_BUCKET
from templates.ci_permissions import UNSCOPED, actions_for
from templates.iam import registry_token, repository_arn

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials asks the token for
ROLE_PATH = "/ci/"  # outside the path of the roles CloudFormation names after the app's stacks
CI_STACK = "ci"
DEPLOY_ROLE_OUTPUT, PLAN_ROLE_OUTPUT = "DeployRoleArn", "PlanRoleArn"
CLOUDFORMATION_ROLE_OUTPUT = "CloudFormationRoleArn"


@dataclass(frozen=True)
class Ci:
    cloudformation_role: iam.Role
    deploy_role: iam.Role
    plan_role: iam.Role


@dataclass(frozen=True)
class Scope:
    """What the CI roles and the CloudFormation role are confined to: `prefix` starts the name
    of every app stack, and of every resource CloudFormation names after one."""

    prefix: str  # "<service>-<environment>"
    environment: str  # its name, also the GitHub environment's
    repository: str  # the ECR repository's name
    ssm_parameters: tuple[str, ...]  # what the stacks' parameters read from SSM


def cloudformation_role_name(prefix: str) -> str:
    return f"{prefix}-cloudformation"


def cloudformation_role_arn(config: CiConfig, region: str, prefix: str) -> str:
    """The role's ARN as the manifest gives it to the deployer (the stack names the role)."""
    return (
        f"arn:{partition_of(region)}:iam::{config.account_id}:role"
        f"{ROLE_PATH}{cloudformation_role_name(prefix)}"
    )


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def add_ci(template: Template, config: CiConfig, scope: Scope, resource_types: set[str]) -> Ci:
    provider = _oidc_provider(template, config)
    cloudformation = template.add_resource(
        iam.Role(
            "CloudFormationRole",
            RoleName=cloudformation_role_name(scope.prefix),
            Path=ROLE_PATH,
            AssumeRolePolicyDocument=_assumed_by_cloudformation(),
            Policies=[
                iam.Policy(
                    PolicyName="manage-stack-resources",
                    PolicyDocument=_manage_resources(scope, resource_types),
                )
            ],
        )
    )
    deploy = _ci_role(
        template,
        "DeployRole",
        provider,
        _deploy_subjects(config, scope.environment),
        scope,
        cloudformation,
        True,
    )
    plan = _ci_role(
        template,
        "PlanRole",
        provider,
        [f"repo:{config.github_repository}:pull_request"],
        scope,
        cloudformation,
        False,
    )
    template.add_output(Output(DEPLOY_ROLE_OUTPUT, Value=deploy.get_att("Arn")))
    template.add_output(Output(PLAN_ROLE_OUTPUT, Value=plan.get_att("Arn")))
    template.add_output(Output(CLOUDFORMATION_ROLE_OUTPUT, Value=cloudformation.get_att("Arn")))
    return Ci(cloudformation, deploy, plan)


def _deploy_subjects(config: CiConfig, environment: str) -> list[str]:
    """GitHub's `sub` claims of a job on main, and of a job in the GitHub environment of this
    name (its deployment-branch rule keeps that to main: README, "CI")."""
    repo = config.github_repository
    return [f"repo:{repo}:ref:refs/heads/main", f"repo:{repo}:environment:{environment}"]


def _oidc_provider(template: Template, config: CiConfig) -> object:
    if config.oidc_provider_arn is not None:
        return config.oidc_provider_arn
    provider = template.add_resource(
        iam.OIDCProvider(
            "GitHubOidcProvider",
            Url=f"https://{GITHUB_OIDC_HOST}",
            ClientIdList=[AUDIENCE],
        )
    )
    return provider.ref()


def _assumed_by_cloudformation() -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", "cloudformation.amazonaws.com"),
                Action=[asts.AssumeRole],
            )
        ],
    )


def _assumed_through_github(provider: object, subjects: list[str]) -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Federated", provider),
                Action=[asts.AssumeRoleWithWebIdentity],
                Condition=Condition(
                    StringEquals(
                        {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subjects}
                    )
                ),
            )
        ],
    )


def _ci_role(
    template: Template,
    title: str,
    provider: object,
    subjects: list[str],
    scope: Scope,
    cloudformation: iam.Role,
    deploys: bool,
) -> iam.Role:
    policy = _deploy_policy if deploys else _plan_policy
    return template.add_resource(
        iam.Role(
            title,
            Path=ROLE_PATH,
            MaxSessionDuration=3600,
            AssumeRolePolicyDocument=_assumed_through_github(provider, subjects),
            Policies=[
                iam.Policy(
                    PolicyName="deploy" if deploys else "plan",
                    PolicyDocument=policy(scope, cloudformation),
                )
            ],
        )
    )


def _arn(service: str, resource: str, *, regional: bool = True) -> Sub:
    where = "${AWS::Region}:${AWS::AccountId}" if regional else ":${AWS::AccountId}"
    if service in {"s3", "route53"}:
        where = ":"
    return Sub(f"arn:${{AWS::Partition}}:{service}:{where}:{resource}")


def _pass_role(sid: str, role: object, service: str) -> Statement:
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[aiam.PassRole],
        Resource=[role],
        Condition=Condition(StringEquals("iam:PassedToService", service)),
    )


def _app_stacks(scope: Scope) -> Sub:
    return _arn("cloudformation", f"stack/{scope.prefix}-*/*")


def _ssm_parameters(scope: Scope) -> list[Sub]:
    return [_arn("ssm", f"parameter{name}") for name in scope.ssm_parameters]


def _plan_statements(scope: Scope, cloudformation: iam.Role) -> list[Statement]:
    """What `make plan` calls: read the stacks, make and discard change sets that run as the
    CloudFormation role, and the preflight's reads of the account."""
    statements = [
        Statement(
            Sid="ReadAppStacks",
            Effect=Allow,
            Action=[
                acfn.DescribeStacks,
                acfn.DescribeStackEvents,
                acfn.DescribeStackResources,
                acfn.GetTemplate,
                acfn.ListChangeSets,
                acfn.DescribeChangeSet,
                acfn.DeleteChangeSet,
                Action("cloudformation", "DescribeEvents"),
            ],
            Resource=[_app_stacks(scope)],
        ),
        Statement(
            Sid="ChangeSetsRunAsTheCloudFormationRole",
            Effect=Allow,
            Action=[acfn.CreateChangeSet],
            Resource=[_app_stacks(scope)],
            Condition=Condition(
                StringEquals("cloudformation:RoleArn", cloudformation.get_att("Arn"))
            ),
        ),
        _pass_role(
            "PassOnlyTheCloudFormationRole",
            cloudformation.get_att("Arn"),
            "cloudformation.amazonaws.com",
        ),
        Statement(
            Sid="ReadImages",
            Effect=Allow,
            Action=[aecr.DescribeRepositories, aecr.DescribeImages],
            Resource=[repository_arn(scope.repository)],
        ),
        # The preflight's lookups: these list and describe calls have no resource-level
        # permission in IAM ("*" is the only Resource AWS accepts), and read no data.
        Statement(
            Sid="PreflightLookups",
            Effect=Allow,
            Action=[
                aacm.ListCertificates,
                aacm.DescribeCertificate,
                aroute53.ListHostedZonesByName,
                aec2.DescribeVpcs,
                aec2.DescribeSubnets,
            ],
            Resource=["*"],
        ),
    ]
    if scope.ssm_parameters:
        statements.append(
            Statement(
                Sid="ReadStackParameters",
                Effect=Allow,
                Action=[assm.GetParameter, assm.GetParameters],
                Resource=_ssm_parameters(scope),
            )
        )
    return statements


def _plan_policy(scope: Scope, cloudformation: iam.Role) -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[*_plan_statements(scope, cloudformation), _not_the_ci_stack(scope)],
    )


def _deploy_policy(scope: Scope, cloudformation: iam.Role) -> PolicyDocument:
    """The plan's, and: execute, follow, cancel and recover the stacks; push the image and the
    static assets; read the service's state when a deployment fails, and check and record it
    after one succeeds."""
    template_bucket = TEMPLATE_BUCKET.format(account="${AWS::AccountId}", region="${AWS::Region}")
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *_plan_statements(scope, cloudformation),
            Statement(
                Sid="OperateAppStacks",
                Effect=Allow,
                Action=[
                    acfn.ExecuteChangeSet,
                    acfn.CancelUpdateStack,
                    acfn.ContinueUpdateRollback,
                    acfn.DeleteStack,
                    acfn.UpdateTerminationProtection,
                ],
                Resource=[_app_stacks(scope)],
            ),
            # The stack-tags-only update (UpdateStack on the previous template) runs as the
            # CloudFormation role too.
            Statement(
                Sid="UpdateTagsAsTheCloudFormationRole",
                Effect=Allow,
                Action=[acfn.UpdateStack],
                Condition=Condition(
                    StringEquals("cloudformation:RoleArn", cloudformation.get_att("Arn"))
                ),
                Resource=[_app_stacks(scope)],
            ),
            registry_token(),
            Statement(
                Sid="PushImage",
                Effect=Allow,
                Action=[
                    aecr.BatchCheckLayerAvailability,
                    aecr.BatchGetImage,
                    aecr.InitiateLayerUpload,
                    aecr.UploadLayerPart,
                    aecr.CompleteLayerUpload,
                    aecr.PutImage,
                ],
                Resource=[repository_arn(scope.repository)],
            ),
            Statement(
                Sid="PushStaticAssets",
                Effect=Allow,
                Action=[as3.PutObject],
                Resource=[_arn("s3", f"{scope.prefix}-*/*")],
            ),
            Statement(
                Sid="TemplateBucket",
                Effect=Allow,
                Action=[
                    as3.ListBucket,
                    as3.CreateBucket,
                    as3.PutBucketPublicAccessBlock,
                    as3.PutObject,
                    as3.GetObject,
                ],
                Resource=[
                    Sub(f"arn:${{AWS::Partition}}:s3:::{template_bucket}"),
                    Sub(f"arn:${{AWS::Partition}}:s3:::{template_bucket}/{scope.prefix}-*"),
                ],
            ),
            Statement(
                Sid="RecordDeployedImage",
                Effect=Allow,
                Action=[assm.PutParameter, assm.GetParameterHistory],
                Resource=[_arn("ssm", f"parameter/{scope.prefix}-*/deployed-image-tag")],
            ),
            Statement(
                Sid="CheckPaging",
                Effect=Allow,
                Action=[asns.ListSubscriptionsByTopic],
                Resource=[_arn("sns", f"{scope.prefix}-*")],
            ),
            # What a failed deployment's diagnosis and the checks after a deploy read:
            # describe calls that ECS, ELBv2 and CloudWatch accept only with Resource "*" (no
            # resource-level permission); they read no data.
            Statement(
                Sid="DiagnoseFailedDeployments",
                Effect=Allow,
                Action=[
                    aecs.DescribeServices,
                    aecs.ListTasks,
                    aecs.DescribeTasks,
                    aelb.DescribeLoadBalancers,
                    acloudwatch.DescribeAlarms,
                ],
                Resource=["*"],
            ),
            _not_the_ci_stack(scope),
        ],
    )


def _not_the_ci_stack(scope: Scope) -> Statement:
    """The ci stack is a person's to change: a CI role that could change it could grant
    itself anything."""
    return Statement(
        Sid="NeverTheCiStack",
        Effect=Deny,
        Action=[Action("cloudformation", "*")],
        Resource=[_arn("cloudformation", f"stack/{scope.prefix}-{CI_STACK}/*")],
    )


def _manage_resources(scope: Scope, resource_types: set[str]) -> PolicyDocument:
    """One statement per service, scoped to this account and region (and to the names
    CloudFormation gives after the app's stacks where the service's ARNs carry them), plus
    one of the actions IAM accepts only on "*"."""
    statements = []
    unscoped: list[Action] = []
    for prefix, actions in actions_for(resource_types).items():
        scoped = [a for a in actions if f"{prefix}:{a.action}" not in UNSCOPED]
        unscoped += [a for a in actions if f"{prefix}:{a.action}" in UNSCOPED]
        if scoped:
            statements.append(
                Statement(
                    Sid=f"Manage{''.join(p.title() for p in prefix.split('-'))}",
                    Effect=Allow,
                    Action=scoped,
                    Resource=_resources_of(prefix, scope),
                )
            )
    if "AWS::ECS::TaskDefinition" in resource_types:
        statements.append(
            _pass_role(
                "PassTaskRoles",
                _arn("iam", f"role/{scope.prefix}-*", regional=False),
                "ecs-tasks.amazonaws.com",
            )
        )
    if "AWS::ElasticLoadBalancingV2::LoadBalancer" in resource_types:
        statements.append(  # its access logs' replication role (templates/access_logs.py)
            _pass_role(
                "PassReplicationRole",
                _arn("iam", f"role/{scope.prefix}-*", regional=False),
                "s3.amazonaws.com",
            )
        )
    if "AWS::EC2::FlowLog" in resource_types:
        statements.append(
            _pass_role(
                "PassFlowLogRole",
                _arn("iam", f"role/{scope.prefix}-*", regional=False),
                "vpc-flow-logs.amazonaws.com",
            )
        )
    if scope.ssm_parameters:
        statements.append(
            Statement(
                Sid="ReadStackParameters",
                Effect=Allow,
                Action=[assm.GetParameters],
                Resource=_ssm_parameters(scope),
            )
        )
    if unscoped:
        statements.append(
            Statement(
                Sid="NoResourceLevelPermission", Effect=Allow, Action=unscoped, Resource=["*"]
            )
        )
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _resources_of(prefix: str, scope: Scope) -> list[object]:
    named = f"{scope.prefix}-*"
    match prefix:
        case "iam":
            return [_arn("iam", f"role/{named}", regional=False)]
        case "s3":
            return [_arn("s3", named), _arn("s3", f"{named}/*")]
        case "ecr":
            return [repository_arn(scope.repository)]
        case "logs":
            return [_arn("logs", f"log-group:{named}")]
        case "sns":
            return [_arn("sns", named)]
        case "cloudwatch":
            return [
                _arn("cloudwatch", f"alarm:{named}"),
                _arn("cloudwatch", f"dashboard/{named}", regional=False),
            ]
        case "route53":
            return [_arn("route53", "hostedzone/*")]
        case "cloudfront":
            return [_arn("cloudfront", "*", regional=False)]
        case _:
            return [_arn(prefix, "*")]
