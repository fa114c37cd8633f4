"""A canary service's stack is accepted by moto's CloudFormation through change sets (issue 19),
and read back: two target groups alike, the test rule's header condition and its priority just
before the production rule's, ECS's traffic-shift role. moto runs no ECS deployment: the
strategy, the PAUSE hook and the advanced configuration are stored, not exercised (the deployer's
tests stand in for the deployment itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from test_templates_moto import _create_stacks, _physical_ids

from environments import load
from environments.services import priority_of_test_rule
from templates.progressive import TEST_HEADER

CANARY = """
[services.web.deployment]
strategy = "canary"
canary_percent = 10
canary_bake_minutes = 5
"""


def _canary_local(tmp_path: Path) -> Path:
    local = (Path(__file__).parent.parent / "environments/local.toml").read_text()
    start = local.index("[services.web.deployment]")
    end = local.index("[services.api]")
    path = tmp_path / "canary.toml"
    path.write_text(local[:start] + CANARY.lstrip() + "\n" + local[end:])
    return path


def _conditions(rule: dict[str, Any]) -> dict[str, Any]:
    return {c["Field"]: c for c in rule["Conditions"]}


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_a_canary_service_is_created_with_two_target_groups_and_a_header_test_rule(
    aws: dict[str, str], tmp_path: Path
) -> None:
    path = _canary_local(tmp_path)
    env = load(path)
    web = env.service("web")
    assert web.deployment.strategy == "canary"
    created = _create_stacks(path, tmp_path / "build")
    cf, elbv2 = boto3.client("cloudformation"), boto3.client("elbv2")
    ids = _physical_ids(cf, created["svc-web"])

    groups = elbv2.describe_target_groups(
        TargetGroupArns=[ids["TargetGroup"], ids["AlternateTargetGroup"]]
    )["TargetGroups"]
    assert len(groups) == 2
    settings = {
        (g["Port"], g["Protocol"], g["TargetType"], g["HealthCheckPath"], g["VpcId"])
        for g in groups
    }
    assert settings == {(8448, "HTTP", "ip", "/_health", groups[0]["VpcId"])}

    listener = _physical_ids(cf, created["environment"])["HttpsListener"]
    rules = {
        rule["Actions"][0]["TargetGroupArn"]: rule
        for rule in elbv2.describe_rules(ListenerArn=listener)["Rules"]
        if not rule["IsDefault"]
    }
    production, test = rules[ids["TargetGroup"]], rules[ids["AlternateTargetGroup"]]
    assert int(production["Priority"]) == web.priority
    assert int(test["Priority"]) == priority_of_test_rule(web) == web.priority - 1
    header = _conditions(test)["http-header"]["HttpHeaderConfig"]
    assert (header["HttpHeaderName"], header["Values"]) == (TEST_HEADER, ["web"])
    assert _conditions(test)["host-header"] == _conditions(production)["host-header"]
    assert "http-header" not in _conditions(production)
    # The rolling api service: one rule, one target group, no test rule.
    api = _physical_ids(cf, created["svc-api"])
    assert "AlternateTargetGroup" not in api and "TestListenerRule" not in api
    assert len(rules) == 3  # web's two, api's one

    role_name = unquote(ids["TrafficShiftRole"]).rsplit("/", 1)[-1]
    role = boto3.client("iam").get_role(RoleName=role_name)["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(
        ids["WorkloadBoundary"].rsplit("/", 1)[-1]
    )
