"""Progressive delivery: what a service whose strategy is not rolling adds to its stack.

ECS deploys it blue/green, canary or linear (its DeploymentConfiguration.Strategy): the new
revision's tasks start in a second, alternate target group; ECS points the test listener rule
at them, pauses (a `PAUSE` lifecycle hook after the test traffic has shifted) until the deployer
answers ContinueServiceDeployment, then moves production traffic by rewriting the production
rule's forward weights, and keeps the old revision for the bake time.

- The alternate target group: the primary's settings, built by the same function (edge.py).
- The test listener rule, on the environment's HTTPS listener (no new listener, no new port):
  the service's own host and path plus one header, `TEST_HEADER: <service name>`. A request
  that carries it reaches the revision under test, and only on the service's own route; one
  that does not is the production rule's. Its priority is the production rule's minus one
  (environments/services.py says why that never takes another route's request).
- The role ECS assumes to shift traffic: trusted by ecs.amazonaws.com, allowed to modify these
  two rules and to register targets in these two target groups, and to read (describes take
  no resource in IAM); capped by the workload boundary like every role of the app.
- The deployment settings of the ECS service (`strategy_settings`, `advanced_configuration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.elasticloadbalancing as aelb
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import Parameter, Template, ecs, iam
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import CANARY, LINEAR, DeploymentConfig, ServiceConfig
from environments.services import MAX_PRIORITY, priority_of_test_rule
from templates.declared import declare, permits, trusts
from templates.edge import Edge, RouteParameters, add_target_group, route_conditions
from templates.iam import assumed_by
from templates.imported import Environment as ImportedEnvironment
from templates.parameters import ServiceParameters

# The header that sends a request to the revision under test. Its value is the service's name:
# the same header works for every service, and a request for one service's route can only be
# sent to that service's new revision.
TEST_HEADER = "X-Deploy-Test"
ECS_SERVICE_PRINCIPAL = "ecs.amazonaws.com"
# The stage ECS pauses at: the new revision takes all of the test traffic and none of
# production's yet (DeploymentLifecycleHook.LifecycleStages in the resource schema).
PAUSE_STAGE = "POST_TEST_TRAFFIC_SHIFT"
PAUSE, ROLLBACK = "PAUSE", "ROLLBACK"

# What ECS calls to shift traffic (AWS's AmazonECSInfrastructureRolePolicyForLoadBalancers,
# less the listener and Network Load Balancer statements: the rules here are an Application Load
# Balancer's listener rules, which ECS modifies instead of the listener).
READS = [
    aelb.DescribeListeners,
    aelb.DescribeRules,
    aelb.DescribeTargetGroups,
    aelb.DescribeTargetHealth,
]
TARGETS = [aelb.RegisterTargets, aelb.DeregisterTargets]
RULES = [aelb.ModifyRule]


@dataclass(frozen=True)
class Progressive:
    alternate_target_group: elbv2.TargetGroup
    test_rule: elbv2.ListenerRule
    role: iam.Role


# Parameters as the route's are (templates/edge.py): the deployer fills them from the manifest.
TEST_RULE_PRIORITY, TEST_HEADER_VALUE = "TestRulePriority", "TestHeaderValue"


def test_header(service: ServiceConfig) -> tuple[str, str]:
    """The header name and value the test rule matches (the manifest's Progressive carries
    them for the deployer's smoke check at the pause)."""
    return TEST_HEADER, service.name


def progressive_values(service: ServiceConfig) -> dict[str, str]:
    """What the deployer fills the test rule's parameters with."""
    return {
        TEST_RULE_PRIORITY: str(priority_of_test_rule(service)),
        TEST_HEADER_VALUE: test_header(service)[1],
    }


def _test_conditions(route: RouteParameters, header_value: Parameter) -> list[elbv2.Condition]:
    return [
        *route_conditions(route),
        elbv2.Condition(
            Field="http-header",
            HttpHeaderConfig=elbv2.HttpHeaderConfig(
                HttpHeaderName=TEST_HEADER, Values=[header_value.ref()]
            ),
        ),
    ]


def shift_traffic_policy(
    target_groups: list[object], rules: list[object], sid_prefix: str = ""
) -> list[Statement]:
    """ECS's traffic shift: the reads (IAM offers no resource-level permission for them), the
    targets of `target_groups`, the forward weights of `rules`."""
    return [
        Statement(Sid=f"{sid_prefix}ReadLoadBalancing", Effect=Allow, Action=READS, Resource=["*"]),
        Statement(
            Sid=f"{sid_prefix}RegisterTheServicesTargets",
            Effect=Allow,
            Action=TARGETS,
            Resource=target_groups,
        ),
        Statement(
            Sid=f"{sid_prefix}ShiftTheServicesRules", Effect=Allow, Action=RULES, Resource=rules
        ),
    ]


def add_progressive(
    template: Template,
    params: ServiceParameters,
    environment: ImportedEnvironment,
    service: ServiceConfig,
    edge: Edge,
    boundary: object,
) -> Progressive:
    """The alternate target group, the test rule and ECS's role of a progressive service."""
    alternate = add_target_group(template, "AlternateTargetGroup", params, service)
    priority = template.add_parameter(
        Parameter(
            TEST_RULE_PRIORITY,
            Type="Number",
            MinValue=1,
            MaxValue=MAX_PRIORITY,
            Description="The test rule's priority: the listener rule's, less one",
        )
    )
    header_value = template.add_parameter(
        Parameter(
            TEST_HEADER_VALUE,
            Type="String",
            MinLength=1,
            Description=f"The {TEST_HEADER} value that sends a request to the new revision",
        )
    )
    test_rule = template.add_resource(
        elbv2.ListenerRule(
            "TestListenerRule",
            ListenerArn=environment.https_listener.ref(),
            Priority=priority.ref(),
            Conditions=_test_conditions(edge.route, header_value),
            Actions=[elbv2.ListenerRuleAction(Type="forward", TargetGroupArn=alternate.ref())],
        )
    )
    target_groups = [edge.target_group.ref(), alternate.ref()]
    rules = [edge.listener_rule.ref(), test_rule.ref()]
    role = template.add_resource(
        iam.Role(
            "TrafficShiftRole",
            # AWS's documented trust for ECS's infrastructure role for load balancers names
            # no aws:SourceAccount or aws:SourceArn: ECS may not send them for this role.
            AssumeRolePolicyDocument=assumed_by(ECS_SERVICE_PRINCIPAL, source_account=False),
            PermissionsBoundary=boundary,
            Policies=[
                iam.Policy(
                    PolicyName="shift-the-services-traffic",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=shift_traffic_policy(target_groups, rules),
                    ),
                )
            ],
        )
    )
    declare(
        role,
        trusts(
            ECS_SERVICE_PRINCIPAL,
            "ECS assumes it to move the service's traffic between its two target groups "
            "during a blue/green, canary or linear deployment",
        ),
        permits(
            READS,
            "ECS reads the listener, rules and target health it shifts; IAM offers no "
            "resource-level permission for these describes",
            resources=["*"],
        ),
        permits(TARGETS, "registers the service's tasks, in its own two target groups only"),
        permits(RULES, "sets the forward weights of the service's own two rules only"),
    )
    return Progressive(alternate_target_group=alternate, test_rule=test_rule, role=role)


def strategy_settings(config: DeploymentConfig) -> dict[str, object]:
    """The DeploymentConfiguration's keys beyond a rolling update's: none for rolling."""
    if not config.progressive:
        return {}
    settings: dict[str, object] = {
        "Strategy": config.strategy.upper(),
        "BakeTimeInMinutes": config.bake_time_minutes,
        "LifecycleHooks": [
            ecs.DeploymentLifecycleHook(
                TargetType=PAUSE,
                LifecycleStages=[PAUSE_STAGE],
                # Nobody answered the pause: ECS rolls back by itself.
                TimeoutConfiguration=ecs.HookTimeoutConfig(
                    Action=ROLLBACK, TimeoutInMinutes=config.pause_timeout_minutes
                ),
            )
        ],
    }
    if config.strategy == CANARY:
        settings["CanaryConfiguration"] = ecs.CanaryConfiguration(
            CanaryPercent=config.canary_percent,
            CanaryBakeTimeInMinutes=config.canary_bake_minutes,
        )
    elif config.strategy == LINEAR:
        settings["LinearConfiguration"] = ecs.LinearConfiguration(
            StepPercent=config.linear_step_percent,
            StepBakeTimeInMinutes=config.linear_step_bake_minutes,
        )
    return settings


def advanced_configuration(edge: Edge, progressive: Progressive) -> ecs.AdvancedConfiguration:
    """The load balancer's blue/green settings of the service's LoadBalancers entry."""
    return ecs.AdvancedConfiguration(
        AlternateTargetGroupArn=progressive.alternate_target_group.ref(),
        ProductionListenerRule=edge.listener_rule.ref(),
        TestListenerRule=progressive.test_rule.ref(),
        RoleArn=progressive.role.get_att("Arn"),
    )
