"""The ci stack's IAM: who can assume each role, and what each may do (issues 10 and 16).

Each role is evaluated here as IAM evaluates it (tests/iam_policy.py): its inline and managed
policies, and its permissions boundary."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any, ClassVar

import pytest
from iam_policy import Principal, arns, listed, principal, resolver
from troposphere import AWSObject, sqs

import generate
from environments import CiConfig, load
from templates import build_ci, build_stacks
from templates.ci_permissions import UnknownResourceType

ACCOUNT, REGION = "123456789012", "eu-west-1"
REPO = "example-org/scalable-app"
PRODUCTION = "scalable-app-production"
CFN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ci/{PRODUCTION}-cloudformation"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


@cache
def raw_ci_template(env_name: str = "production") -> dict[str, Any]:
    env = load(env_name)
    stack = build_ci(env, generate.build(env, "t"))
    assert stack is not None
    template: dict[str, Any] = stack.template.to_dict()
    return template


def resolve_in(env_name: str) -> Any:
    template = raw_ci_template(env_name)
    return resolver(PSEUDO, arns(template, f"scalable-app-{env_name}-ci", PSEUDO))


def ci_template(env_name: str = "production") -> dict[str, Any]:
    """The template with Fn::Sub, Fn::Join, the pseudo parameters and the references to its own
    roles and policies as AWS resolves them in the production account."""
    resolved: dict[str, Any] = resolve_in(env_name)(raw_ci_template(env_name))
    return resolved


def role(name: str, env_name: str = "production") -> dict[str, Any]:
    properties: dict[str, Any] = ci_template(env_name)["Resources"][name]["Properties"]
    return properties


def as_principal(role_name: str, env_name: str = "production") -> Principal:
    return principal(raw_ci_template(env_name), role_name, resolve_in(env_name))


def statements(role_name: str, env_name: str = "production") -> list[dict[str, Any]]:
    return [dict(s) for s in as_principal(role_name, env_name).statements]


_listed = listed


def allowed(role_name: str, action: str, resource: str, **context: str) -> bool:
    return as_principal(role_name).allowed(action, resource, **context)


def stack_arn(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f1e2d3c"


def trust(role_name: str, env_name: str = "production") -> dict[str, Any]:
    (statement,) = role(role_name, env_name)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    return dict(statement)


def test_only_the_production_github_environment_of_the_repository_assumes_the_deploy_role() -> None:
    """Not a job on main outside the environment: it would skip the required reviewers."""
    statement = trust("DeployRole")
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert statement["Principal"] == {"Federated": provider}
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [f"repo:{REPO}:environment:production"],
        }
    }


def test_production_has_no_pull_request_plan_role_unless_it_asks() -> None:
    resources = ci_template()["Resources"]
    assert "PlanRole" not in resources
    assert "PlanRoleArn" not in ci_template()["Outputs"]
    assert load("production").ci is not None and not load("production").ci.pull_request_plans


def test_only_pull_requests_of_the_repository_assume_the_plan_role_where_asked() -> None:
    assert load("staging").ci is not None and load("staging").ci.pull_request_plans
    assert trust("PlanRole", "staging")["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [f"repo:{REPO}:pull_request"],
    }


def test_only_cloudformation_assumes_the_cloudformation_role() -> None:
    statement = trust("CloudFormationRole")
    assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole"]


def test_the_oidc_provider_is_github_for_sts() -> None:
    resources = ci_template()["Resources"]
    provider = resources["GitHubOidcProvider"]
    assert provider["Type"] == "AWS::IAM::OIDCProvider"
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_an_environment_naming_the_accounts_provider_creates_none() -> None:
    resources = ci_template("staging")["Resources"]
    assert "GitHubOidcProvider" not in resources
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert trust("DeployRole", "staging")["Principal"] == {"Federated": provider}
    subjects = trust("DeployRole", "staging")["Condition"]["StringEquals"]
    assert subjects["token.actions.githubusercontent.com:sub"] == [
        f"repo:{REPO}:environment:staging"
    ]


def test_the_deploy_role_operates_this_environments_app_stacks_and_no_other() -> None:
    for verb in ("ExecuteChangeSet", "DescribeStacks", "DeleteStack", "CancelUpdateStack"):
        assert allowed("DeployRole", f"cloudformation:{verb}", stack_arn(f"{PRODUCTION}-service"))
    for other in ("scalable-app-staging-service", "other-app-production-service"):
        assert not allowed("DeployRole", "cloudformation:ExecuteChangeSet", stack_arn(other))
    assert not allowed(
        "DeployRole", "cloudformation:UpdateStack", stack_arn(f"{PRODUCTION}-service")
    )


CI_ROLES = (("DeployRole", "production"), ("PlanRole", "staging"))


def cfn_role_arn(env_name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/ci/scalable-app-{env_name}-cloudformation"


def allowed_in(env_name: str, role_name: str, action: str, resource: str, **context: str) -> bool:
    return as_principal(role_name, env_name).allowed(action, resource, **context)


def test_no_ci_role_can_touch_the_ci_stack_itself() -> None:
    for role_name, env_name in CI_ROLES:
        for verb in ("CreateChangeSet", "ExecuteChangeSet", "DeleteStack", "DescribeStacks"):
            assert not allowed_in(
                env_name,
                role_name,
                f"cloudformation:{verb}",
                stack_arn(f"scalable-app-{env_name}-ci"),
                cloudformation__RoleArn=cfn_role_arn(env_name),
            )


def test_change_sets_are_created_only_to_run_as_the_cloudformation_role() -> None:
    for role_name, env_name in CI_ROLES:
        service = stack_arn(f"scalable-app-{env_name}-service")
        create = "cloudformation:CreateChangeSet"
        assert allowed_in(
            env_name, role_name, create, service, cloudformation__RoleArn=cfn_role_arn(env_name)
        )
        assert not allowed_in(env_name, role_name, create, service)
        other_role = f"arn:aws:iam::{ACCOUNT}:role/admin"
        assert not allowed_in(
            env_name, role_name, create, service, cloudformation__RoleArn=other_role
        )


def test_the_ci_roles_pass_only_the_cloudformation_role_and_only_to_cloudformation() -> None:
    for role_name, env_name in CI_ROLES:
        to_cfn = {"iam__PassedToService": "cloudformation.amazonaws.com"}
        cfn = cfn_role_arn(env_name)
        assert allowed_in(env_name, role_name, "iam:PassRole", cfn, **to_cfn)
        assert not allowed_in(
            env_name, role_name, "iam:PassRole", cfn, iam__PassedToService="ec2.amazonaws.com"
        )
        task_role = f"arn:aws:iam::{ACCOUNT}:role/scalable-app-{env_name}-service-TaskRole-AB12"
        assert not allowed_in(env_name, role_name, "iam:PassRole", task_role, **to_cfn)


def test_the_deploy_role_pushes_to_this_environments_repository_only() -> None:
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{PRODUCTION}"
    assert allowed("DeployRole", "ecr:PutImage", repository)
    assert not allowed("DeployRole", "ecr:PutImage", f"{repository[:-10]}staging")
    assert not allowed("DeployRole", "ecr:DeleteRepository", repository)
    staging = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/scalable-app-staging"
    assert not allowed_in("staging", "PlanRole", "ecr:PutImage", staging)


def test_make_push_lists_and_fills_the_assets_bucket() -> None:
    """push.py lists what the bucket already holds (ListObjectsV2: s3:ListBucket) first."""
    bucket = f"arn:aws:s3:::{PRODUCTION}-static-staticassetsbucket-ab12"
    assert allowed("DeployRole", "s3:ListBucket", bucket)
    assert allowed("DeployRole", "s3:PutObject", f"{bucket}/abc/site.css")
    assert not allowed("DeployRole", "s3:ListBucket", "arn:aws:s3:::someone-elses-bucket")


def test_the_plan_role_executes_nothing_and_creates_no_resource() -> None:
    service = stack_arn("scalable-app-staging-service")
    for verb in ("ExecuteChangeSet", "DeleteStack", "UpdateStack", "CreateStack"):
        assert not allowed_in("staging", "PlanRole", f"cloudformation:{verb}", service)
    plan = statements("PlanRole", "staging")
    ci_actions = {a.lower() for s in plan for a in _listed(s["Action"])}
    assert not {a for a in ci_actions if a.startswith(("ec2:create", "iam:create", "s3:create"))}


def test_the_plan_role_uploads_a_large_template_to_the_template_bucket_only() -> None:
    """A template over 51,200 bytes goes through the template bucket (deployer/changeset.py)."""
    bucket = f"arn:aws:s3:::cfn-templates-{ACCOUNT}-{REGION}"
    key = f"{bucket}/scalable-app-staging-service/0123abcd.json"
    for action, resource in (
        ("s3:ListBucket", bucket),
        ("s3:PutObject", key),
        ("s3:GetObject", key),
    ):
        assert allowed_in("staging", "PlanRole", action, resource)
    assert not allowed_in("staging", "PlanRole", "s3:PutObject", f"{bucket}/other-app/x.json")
    assert not allowed_in("staging", "PlanRole", "s3:CreateBucket", bucket)


def test_change_set_events_are_readable_for_early_validation() -> None:
    change_set = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-abc-0123456789ab/0f1e"
    for role_name, env_name in CI_ROLES:
        assert allowed_in(env_name, role_name, "cloudformation:DescribeEvents", change_set)


def test_the_cloudformation_role_manages_what_the_stacks_hold_named_after_them() -> None:
    cfn = "CloudFormationRole"
    task_role = f"arn:aws:iam::{ACCOUNT}:role/{PRODUCTION}-service-TaskRole-AB12"
    workload = f"arn:aws:iam::{ACCOUNT}:policy/ci/{PRODUCTION}-workload-boundary"
    assert allowed(cfn, "iam:CreateRole", task_role, iam__PermissionsBoundary=workload)
    assert allowed(cfn, "iam:PassRole", task_role, iam__PassedToService="ecs-tasks.amazonaws.com")
    assert not allowed(cfn, "iam:PassRole", task_role, iam__PassedToService="ec2.amazonaws.com")
    for own in ("deploy", "cloudformation"):  # the ci stack's roles are out of its reach
        assert not allowed(cfn, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/ci/{own}")
    assert not allowed(cfn, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/{PRODUCTION}-x")
    assert allowed(cfn, "ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*")
    assert not allowed(cfn, "ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*")
    assert not allowed(cfn, "ec2:CreateVpc", f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/*")
    bucket = f"arn:aws:s3:::{PRODUCTION}-static-staticassetsbucket-ab12"
    assert allowed(cfn, "s3:CreateBucket", bucket)
    assert not allowed(cfn, "s3:CreateBucket", "arn:aws:s3:::someone-elses-bucket")
    assert not allowed(cfn, "s3:GetObject", f"{bucket}/index.html")
    # the security baseline's network and the service's dashboard (issues 11 and 9)
    assert allowed(cfn, "ec2:CreateVpcEndpoint", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/*")
    assert allowed(cfn, "ec2:CreateFlowLogs", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*")
    flow_log_role = f"arn:aws:iam::{ACCOUNT}:role/{PRODUCTION}-network-FlowLogRole-AB12"
    to_flow_logs = {"iam__PassedToService": "vpc-flow-logs.amazonaws.com"}
    assert allowed(cfn, "iam:PassRole", flow_log_role, **to_flow_logs)
    assert allowed(cfn, "s3:PutBucketObjectLockConfiguration", bucket)
    dashboard = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{PRODUCTION}-service"
    assert allowed(cfn, "cloudwatch:PutDashboard", dashboard)
    assert not allowed(
        cfn, "cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/ops"
    )


def test_the_deploy_role_checks_and_records_what_it_deployed_and_nothing_more() -> None:
    """What runs after a deploy (deployer/postdeploy.py): the alarms, the paging topic's
    subscriptions, and the SSM record of the image tag that rollback reads."""
    record = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PRODUCTION}-service/deployed-image-tag"
    for verb in ("PutParameter", "GetParameterHistory"):
        assert allowed("DeployRole", f"ssm:{verb}", record)
    other = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PRODUCTION}-service/database-password"
    assert not allowed("DeployRole", "ssm:PutParameter", other)
    staging = record.replace(PRODUCTION, "scalable-app-staging")
    assert not allowed_in("staging", "PlanRole", "ssm:PutParameter", staging)
    alarm = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PRODUCTION}-service-Http5xx-AB12"
    assert allowed("DeployRole", "cloudwatch:DescribeAlarms", alarm)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PRODUCTION}-service-AlertTopic-AB12"
    assert allowed("DeployRole", "sns:ListSubscriptionsByTopic", topic)
    assert not allowed("DeployRole", "sns:Subscribe", topic)


def test_the_stack_tags_update_runs_only_as_the_cloudformation_role() -> None:
    service = stack_arn(f"{PRODUCTION}-service")
    update = "cloudformation:UpdateStack"
    assert allowed("DeployRole", update, service, cloudformation__RoleArn=CFN_ROLE_ARN)
    assert not allowed("DeployRole", update, service)
    admin = f"arn:aws:iam::{ACCOUNT}:role/admin"
    assert not allowed("DeployRole", update, service, cloudformation__RoleArn=admin)
    staging = stack_arn("scalable-app-staging-service")
    as_cfn = {"cloudformation__RoleArn": cfn_role_arn("staging")}
    assert not allowed_in("staging", "PlanRole", update, staging, **as_cfn)


def test_a_new_resource_type_gets_its_schemas_permissions_and_an_unknown_one_stops() -> None:
    env = load("production")
    stacks = build_stacks(env, "t")
    stacks[0].template.add_resource(sqs.Queue("Unplanned"))
    stack = build_ci(env, stacks)
    assert stack is not None
    text = json.dumps(stack.template.to_dict())
    assert '"sqs:CreateQueue"' in text  # from AWS::SQS::Queue's schema, by no hand

    class Unheard(AWSObject):
        resource_type = "AWS::Unheard::Thing"
        props: ClassVar[dict[str, Any]] = {}

    stacks[0].template.add_resource(Unheard("Unheard"))
    with pytest.raises(UnknownResourceType, match=r"AWS::Unheard::Thing"):
        build_ci(env, stacks)


def test_the_manifest_passes_the_cloudformation_role_the_ci_stack_names() -> None:
    files = generate.generate(load("production"), "t")
    manifest = json.loads(files["manifest.json"])
    assert manifest["ci"] == {"stack_name": f"{PRODUCTION}-ci", "template": "ci.json"}
    assert "ci" not in [s["key"] for s in manifest["stacks"]]  # a person deploys it, once
    assert {s["role_arn"] for s in manifest["stacks"]} == {CFN_ROLE_ARN}
    cfn = json.loads(files["ci.json"])["Resources"]["CloudFormationRole"]["Properties"]
    assert f"arn:aws:iam::{ACCOUNT}:role{cfn['Path']}{cfn['RoleName']}" == CFN_ROLE_ARN


def test_an_environment_without_ci_has_no_ci_stack_and_no_role() -> None:
    files = generate.generate(load("local"), "t")
    manifest = json.loads(files["manifest.json"])
    assert "ci.json" not in files
    assert manifest["ci"] is None
    assert {s["role_arn"] for s in manifest["stacks"]} == {None}


def test_a_china_region_gets_its_partition_in_the_role_arn() -> None:
    env = load("production")
    env = replace(env, region="cn-north-1", ci=CiConfig(REPO, ACCOUNT, oidc_provider_arn=None))
    assert generate.role_arn(env) == (
        f"arn:aws-cn:iam::{ACCOUNT}:role/ci/{PRODUCTION}-cloudformation"
    )


def test_the_ci_roles_may_detect_and_read_the_app_stacks_drift() -> None:
    """The plan's drift (deployer/drift.py): detection and its results on this environment's
    stacks; a detection's status names no stack ("*" only)."""
    for role_name, env_name in CI_ROLES:
        service = stack_arn(f"scalable-app-{env_name}-service")
        for action in ("DetectStackDrift", "DescribeStackResourceDrifts"):
            assert allowed_in(env_name, role_name, f"cloudformation:{action}", service)
            assert not allowed_in(
                env_name, role_name, f"cloudformation:{action}", stack_arn("other-app")
            )
        assert allowed_in(
            env_name, role_name, "cloudformation:DescribeStackDriftDetectionStatus", "*"
        )
