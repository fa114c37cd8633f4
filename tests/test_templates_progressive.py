"""A progressive service's stack (issue 19): the alternate target group, the test listener rule,
the PAUSE hook and the strategy, the load balancer's advanced configuration, ECS's traffic-shift
role (its trust, its scope, its boundary), the ci roles' service-deployment permissions; and a
rolling service's stack as it was."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from iam_policy import arns, principal, resolver
from templates_support import filled, filled_template, properties, stack_template
from test_templates_ci import allowed_in

import environments
from environments.model import Environment
from environments.services import priority_of_test_rule
from templates import build_stacks
from templates.progressive import TEST_HEADER

LOCAL = environments.path_of("local").read_text()
ACCOUNT, REGION = "123456789012", "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"


def local_with(web: str = "", api: str = "") -> str:
    """local.toml with a deployment table of web's and of api's replaced by the ones given."""
    text = LOCAL.replace("[services.web.deployment]\n", "[services.web.dropped]\n")
    text = text[: text.index("[services.web.dropped]")] + text[text.index("[services.api]") :]
    if web:
        text = text.replace("[services.api]", f"[services.web.deployment]\n{web}\n\n[services.api]")
    if api:
        text += f"\n[services.api.deployment]\n{api}\n"
    return text


@cache
def built(text: str) -> dict[str, dict[str, Any]]:
    path = Path(f"/tmp/i19t-progressive-{abs(hash(text))}/local.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    env: Environment = environments.load(path)
    # with the manifest's values of the route's and the test rule's parameters: the rules as
    # the stack has them
    return {
        stack.key: filled(stack.template.to_dict(), stack.parameters)
        for stack in build_stacks(env, "t")
    }


CANARY = (
    'strategy = "canary"\ncanary_percent = 10\ncanary_bake_minutes = 7\npause_timeout_minutes = 45'
)


def resources(text: str = "", key: str = "svc-web") -> dict[str, Any]:
    found: dict[str, Any] = built(text or local_with(web=CANARY))[key]["Resources"]
    return found


def test_the_alternate_target_group_is_the_primarys_twin() -> None:
    found = resources()
    assert found["AlternateTargetGroup"] == found["TargetGroup"]
    assert found["AlternateTargetGroup"]["Properties"]["HealthCheckPath"] == "/_health"


def test_the_test_rule_is_the_routes_conditions_plus_the_header_before_its_production_rule() -> (
    None
):
    found = resources()
    production = found["ListenerRule"]["Properties"]
    test = found["TestListenerRule"]["Properties"]
    assert test["ListenerArn"] == production["ListenerArn"]  # the HTTPS listener: no new port
    assert test["Conditions"] == [
        *production["Conditions"],
        {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": TEST_HEADER, "Values": ["web"]},
        },
    ]
    assert test["Actions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "AlternateTargetGroup"}}
    ]
    assert int(test["Priority"]) == int(production["Priority"]) - 1
    env = environments.load("production")
    test_rule = filled_template()["Resources"]["TestListenerRule"]["Properties"]
    assert int(test_rule["Priority"]) == priority_of_test_rule(env.services[0])


def test_a_path_routes_test_rule_keeps_the_path_condition() -> None:
    found = resources(local_with(api='strategy = "blue_green"'), "svc-api")
    fields = [c["Field"] for c in found["TestListenerRule"]["Properties"]["Conditions"]]
    assert fields == ["host-header", "path-pattern", "http-header"]
    header = found["TestListenerRule"]["Properties"]["Conditions"][2]["HttpHeaderConfig"]
    assert header["Values"] == ["api"]


def test_the_pause_hook_rolls_back_when_nobody_answers_and_the_breakers_stay() -> None:
    config = resources()["Service"]["Properties"]["DeploymentConfiguration"]
    assert config["Strategy"] == "CANARY"
    assert config["CanaryConfiguration"] == {"CanaryPercent": 10.0, "CanaryBakeTimeInMinutes": 7}
    assert config["BakeTimeInMinutes"] == 15
    assert config["LifecycleHooks"] == [
        {
            "TargetType": "PAUSE",
            "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "TimeoutConfiguration": {"Action": "ROLLBACK", "TimeoutInMinutes": 45},
        }
    ]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["Alarms"]["Enable"] is True and config["Alarms"]["Rollback"] is True
    assert "LinearConfiguration" not in config


@pytest.mark.parametrize(
    ("table", "strategy", "extra"),
    [
        (
            'strategy = "linear"\nlinear_step_percent = 25\nlinear_step_bake_minutes = 4',
            "LINEAR",
            {"LinearConfiguration": {"StepPercent": 25.0, "StepBakeTimeInMinutes": 4}},
        ),
        ('strategy = "blue_green"\nbake_time_minutes = 3', "BLUE_GREEN", {}),
    ],
)
def test_each_strategy_carries_its_own_settings(
    table: str, strategy: str, extra: dict[str, Any]
) -> None:
    config = resources(local_with(web=table))["Service"]["Properties"]["DeploymentConfiguration"]
    assert config["Strategy"] == strategy
    assert {k: config[k] for k in extra} == extra
    other = {"CanaryConfiguration", "LinearConfiguration"} - set(extra)
    assert not other & set(config)


def test_the_load_balancer_entry_names_both_rules_the_alternate_group_and_the_role() -> None:
    (entry,) = resources()["Service"]["Properties"]["LoadBalancers"]
    assert entry["TargetGroupArn"] == {"Ref": "TargetGroup"}
    assert entry["AdvancedConfiguration"] == {
        "AlternateTargetGroupArn": {"Ref": "AlternateTargetGroup"},
        "ProductionListenerRule": {"Ref": "ListenerRule"},
        "TestListenerRule": {"Ref": "TestListenerRule"},
        "RoleArn": {"Fn::GetAtt": ["TrafficShiftRole", "Arn"]},
    }


def _traffic_role(text: str = "") -> Any:
    template = built(text or local_with(web=CANARY))["svc-web"]
    refs = arns(template, "scalable-app-local-svc-web", PSEUDO)
    return principal(template, "TrafficShiftRole", resolver(PSEUDO, refs)), refs


def test_only_ecs_assumes_the_traffic_role() -> None:
    role = resources()["TrafficShiftRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole"]


def test_the_traffic_role_shifts_this_services_rules_and_groups_only_within_its_boundary() -> None:
    role, refs = _traffic_role()
    assert role.boundary is not None  # this stack's own copy of the workload boundary
    for rule in ("ListenerRule", "TestListenerRule"):
        assert role.allowed("elasticloadbalancing:ModifyRule", refs[rule])
    for group in ("TargetGroup", "AlternateTargetGroup"):
        assert role.allowed("elasticloadbalancing:RegisterTargets", refs[group])
        assert role.allowed("elasticloadbalancing:DeregisterTargets", refs[group])
    assert role.allowed("elasticloadbalancing:DescribeTargetHealth", "*")
    other_rule = f"{ELB}:listener-rule/app/scalab-LoadB-AB12CD/0123/4567/89ab"
    other_group = f"{ELB}:targetgroup/other-AB12CD/0123456789abcdef"
    assert not role.allowed("elasticloadbalancing:ModifyRule", other_rule)
    assert not role.allowed("elasticloadbalancing:RegisterTargets", other_group)
    assert not role.allowed("elasticloadbalancing:ModifyListener", f"{ELB}:listener/app/x/1/2")
    assert not role.allowed("elasticloadbalancing:DeleteRule", refs["ListenerRule"])


def test_the_production_roles_boundary_is_the_ci_stacks_and_admits_the_shift() -> None:
    """With a ci stack the role carries the named workload boundary, which then admits ECS's
    actions on ELB rules and target groups of the account and region, and nothing else new."""
    role = properties("TrafficShiftRole")
    assert "workload-boundary" in role["PermissionsBoundary"]["Fn::Sub"]
    ci = built_ci_boundary()
    actions = {
        a for s in ci for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {"elasticloadbalancing:ModifyRule", "elasticloadbalancing:RegisterTargets"} <= actions
    assert "elasticloadbalancing:ModifyListener" not in actions


def built_ci_boundary() -> list[dict[str, Any]]:
    from test_templates_ci import ci_template

    boundary = ci_template("production")["Resources"]["WorkloadBoundary"]["Properties"]
    statements: list[dict[str, Any]] = boundary["PolicyDocument"]["Statement"]
    return statements


def test_a_rolling_services_stack_is_unchanged_by_another_going_progressive() -> None:
    rolling = built(local_with())
    canary = built(local_with(web=CANARY))
    assert rolling["svc-api"] == canary["svc-api"]
    assert rolling["environment"] == canary["environment"]
    web = rolling["svc-web"]["Resources"]
    assert not {"AlternateTargetGroup", "TestListenerRule", "TrafficShiftRole"} & set(web)
    config = web["Service"]["Properties"]["DeploymentConfiguration"]
    assert "Strategy" not in config and "LifecycleHooks" not in config
    assert "AdvancedConfiguration" not in web["Service"]["Properties"]["LoadBalancers"][0]
    boundary = web["WorkloadBoundary"]["Properties"]["PolicyDocument"]["Statement"]
    assert not any("elasticloadbalancing" in str(s["Action"]) for s in boundary)


# ---- the ci roles: what the deployer calls on a progressive deployment ----
EU = "arn:aws:ecs:eu-west-1:123456789012"
CLUSTER = "scalable-app-production-environment-Cluster-AB12CD"
SERVICE = f"{EU}:service/{CLUSTER}/scalable-app-production-svc-web-Service-XY"
DEPLOYMENT = f"{EU}:service-deployment/{CLUSTER}/scalable-app-production-svc-web-Service-XY/r4nd"
STAGING_DEPLOYMENT = DEPLOYMENT.replace("production", "staging")


def test_the_deploy_role_follows_and_answers_this_environments_deployments_only() -> None:
    assert allowed_in("production", "DeployRole", "ecs:ListServiceDeployments", SERVICE)
    for action in ("Describe", "Continue", "Stop"):
        name = f"ecs:{action}ServiceDeployment{'s' if action == 'Describe' else ''}"
        assert allowed_in("production", "DeployRole", name, DEPLOYMENT), name
        assert not allowed_in("production", "DeployRole", name, STAGING_DEPLOYMENT), name


def test_the_plan_role_reads_deployments_and_answers_none() -> None:
    """staging takes pull-request plans: its plan role reads, and never continues or stops."""
    deployment = STAGING_DEPLOYMENT
    assert allowed_in("staging", "PlanRole", "ecs:DescribeServiceDeployments", deployment)
    assert allowed_in(
        "staging",
        "PlanRole",
        "ecs:ListServiceDeployments",
        SERVICE.replace("production", "staging"),
    )
    for action in ("ecs:ContinueServiceDeployment", "ecs:StopServiceDeployment"):
        assert not allowed_in("staging", "PlanRole", action, deployment)
        assert allowed_in("staging", "DeployRole", action, deployment)


def test_the_cloudformation_role_passes_the_traffic_role_to_ecs_only() -> None:
    role = "arn:aws:iam::123456789012:role/scalable-app-production-svc-web-TrafficShiftRole-AB"
    cfn = "CloudFormationRole"
    passed = {"iam__PassedToService": "ecs.amazonaws.com"}
    assert allowed_in("production", cfn, "iam:PassRole", role, **passed)
    other = {"iam__PassedToService": "lambda.amazonaws.com"}
    assert not allowed_in("production", cfn, "iam:PassRole", role, **other)


def test_stack_template_of_production_is_canary() -> None:
    config = stack_template()["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]
    assert config["Strategy"] == "CANARY"
