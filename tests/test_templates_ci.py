"""The ci stack's IAM: who can assume each role, and what each may do (issue 10).

Each role's policy is evaluated here as IAM evaluates it for the cases that matter: an explicit
Deny wins, else some Allow whose action, resource and conditions all match."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

import pytest
from troposphere import sqs

import generate
from environments import CiConfig, load
from templates import build_ci, build_stacks
from templates.ci_permissions import UnknownResourceType

ACCOUNT, REGION = "123456789012", "eu-west-1"
REPO = "example-org/scalable-app"
PRODUCTION = "scalable-app-production"
CFN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ci/{PRODUCTION}-cloudformation"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


def ci_template(env_name: str = "production") -> dict[str, Any]:
    env = load(env_name)
    stack = build_ci(env, build_stacks(env, "t"))
    assert stack is not None
    return resolve(stack.template.to_dict())


def resolve(value: Any) -> Any:
    """The template with Fn::Sub, Fn::Join, the pseudo parameters and the CloudFormation role's
    Fn::GetAtt as AWS resolves them in the production account."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m[1]], value["Fn::Sub"])
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(parts))
    if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if value == {"Fn::GetAtt": ["CloudFormationRole", "Arn"]}:
        return CFN_ROLE_ARN
    return {k: resolve(v) for k, v in value.items()}


def role(name: str, env_name: str = "production") -> dict[str, Any]:
    properties: dict[str, Any] = ci_template(env_name)["Resources"][name]["Properties"]
    return properties


def statements(role_name: str) -> list[dict[str, Any]]:
    return [s for p in role(role_name)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["Action"])):
        return False
    if not any(fnmatchcase(resource, r) for r in _listed(statement["Resource"])):
        return False
    for operator, conditions in statement.get("Condition", {}).items():
        assert operator == "StringEquals", operator
        for key, wanted in conditions.items():
            if context.get(key) not in _listed(wanted):
                return False
    return True


def allowed(role_name: str, action: str, resource: str, **context: str) -> bool:
    context = {k.replace("__", ":"): v for k, v in context.items()}
    found = statements(role_name)
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, context) for s in found):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource, context) for s in found)


def stack_arn(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f1e2d3c"


def trust(role_name: str, env_name: str = "production") -> dict[str, Any]:
    (statement,) = role(role_name, env_name)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    return dict(statement)


def test_only_main_and_the_production_environment_of_the_repository_assume_the_deploy_role() -> (
    None
):
    statement = trust("DeployRole")
    assert statement["Principal"] == {"Federated": {"Ref": "GitHubOidcProvider"}}
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                f"repo:{REPO}:ref:refs/heads/main",
                f"repo:{REPO}:environment:production",
            ],
        }
    }


def test_only_pull_requests_of_the_repository_assume_the_plan_role() -> None:
    assert trust("PlanRole")["Condition"]["StringEquals"] == {
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
    assert f"repo:{REPO}:environment:staging" in subjects["token.actions.githubusercontent.com:sub"]


def test_the_deploy_role_operates_this_environments_app_stacks_and_no_other() -> None:
    for verb in ("ExecuteChangeSet", "DescribeStacks", "DeleteStack", "CancelUpdateStack"):
        assert allowed("DeployRole", f"cloudformation:{verb}", stack_arn(f"{PRODUCTION}-service"))
    for other in ("scalable-app-staging-service", "other-app-production-service"):
        assert not allowed("DeployRole", "cloudformation:ExecuteChangeSet", stack_arn(other))
    assert not allowed(
        "DeployRole", "cloudformation:UpdateStack", stack_arn(f"{PRODUCTION}-service")
    )


def test_no_ci_role_can_touch_the_ci_stack_itself() -> None:
    for role_name in ("DeployRole", "PlanRole"):
        for verb in ("CreateChangeSet", "ExecuteChangeSet", "DeleteStack", "DescribeStacks"):
            assert not allowed(
                role_name,
                f"cloudformation:{verb}",
                stack_arn(f"{PRODUCTION}-ci"),
                cloudformation__RoleArn=CFN_ROLE_ARN,
            )


def test_change_sets_are_created_only_to_run_as_the_cloudformation_role() -> None:
    service = stack_arn(f"{PRODUCTION}-service")
    for role_name in ("DeployRole", "PlanRole"):
        assert allowed(
            role_name,
            "cloudformation:CreateChangeSet",
            service,
            cloudformation__RoleArn=CFN_ROLE_ARN,
        )
        assert not allowed(role_name, "cloudformation:CreateChangeSet", service)
        other_role = f"arn:aws:iam::{ACCOUNT}:role/admin"
        assert not allowed(
            role_name, "cloudformation:CreateChangeSet", service, cloudformation__RoleArn=other_role
        )


def test_the_ci_roles_pass_only_the_cloudformation_role_and_only_to_cloudformation() -> None:
    for role_name in ("DeployRole", "PlanRole"):
        to_cfn = {"iam__PassedToService": "cloudformation.amazonaws.com"}
        assert allowed(role_name, "iam:PassRole", CFN_ROLE_ARN, **to_cfn)
        assert not allowed(
            role_name, "iam:PassRole", CFN_ROLE_ARN, iam__PassedToService="ec2.amazonaws.com"
        )
        task_role = f"arn:aws:iam::{ACCOUNT}:role/{PRODUCTION}-service-TaskRole-AB12"
        assert not allowed(role_name, "iam:PassRole", task_role, **to_cfn)


def test_the_deploy_role_pushes_to_this_environments_repository_only() -> None:
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{PRODUCTION}"
    assert allowed("DeployRole", "ecr:PutImage", repository)
    assert not allowed("DeployRole", "ecr:PutImage", f"{repository[:-10]}staging")
    assert not allowed("DeployRole", "ecr:DeleteRepository", repository)
    assert not allowed("PlanRole", "ecr:PutImage", repository)


def test_the_plan_role_executes_nothing_and_creates_no_resource() -> None:
    service = stack_arn(f"{PRODUCTION}-service")
    for verb in ("ExecuteChangeSet", "DeleteStack", "UpdateStack", "CreateStack"):
        assert not allowed("PlanRole", f"cloudformation:{verb}", service)
    ci_actions = {a.lower() for s in statements("PlanRole") for a in _listed(s["Action"])}
    assert not {a for a in ci_actions if a.startswith(("ec2:create", "iam:create", "s3:put"))}


def test_the_cloudformation_role_manages_what_the_stacks_hold_named_after_them() -> None:
    cfn = "CloudFormationRole"
    task_role = f"arn:aws:iam::{ACCOUNT}:role/{PRODUCTION}-service-TaskRole-AB12"
    assert allowed(cfn, "iam:CreateRole", task_role)
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
    assert not allowed("PlanRole", "ssm:PutParameter", record)
    assert allowed("DeployRole", "cloudwatch:DescribeAlarms", "*")
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
    assert not allowed("PlanRole", update, service, cloudformation__RoleArn=CFN_ROLE_ARN)


def test_a_resource_type_the_role_does_not_know_stops_generation() -> None:
    env = load("production")
    stacks = build_stacks(env, "t")
    stacks[0].template.add_resource(sqs.Queue("Unplanned"))
    with pytest.raises(UnknownResourceType, match=r"AWS::SQS::Queue: add its actions"):
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
    service = stack_arn("scalable-app-production-service")
    for role_name in ("DeployRole", "PlanRole"):
        for action in ("DetectStackDrift", "DescribeStackResourceDrifts"):
            assert allowed(role_name, f"cloudformation:{action}", service)
            assert not allowed(role_name, f"cloudformation:{action}", stack_arn("other-app"))
        assert allowed(role_name, "cloudformation:DescribeStackDriftDetectionStatus", "*")
