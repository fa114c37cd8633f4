"""Replacement predicted offline from the resource schemas cfn-lint ships, for every Modify:
what the emulator never reports, and what AWS's answer overrides."""

from __future__ import annotations

import copy
import json
from typing import Any

import templates_support

from deployer import replacement, review, review_text
from deployer.changeset import ChangeSet

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
ARN = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-x/1"


def modify(logical: str, kind: str, reported: str = "") -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": "Modify",
        "LogicalResourceId": logical,
        "ResourceType": kind,
    }
    if reported:
        change["Replacement"] = reported
    return {"Type": "Resource", "ResourceChange": change}


def reviewed(
    deployed: dict[str, Any], new: dict[str, Any], changes: list[dict[str, Any]]
) -> review.Review:
    found = ChangeSet(ARN, STACK_ID, "deploy-x", "UPDATE", {"StackName": "s"}, changes, False)
    return review.build(found, "us-east-1", {}, set(), deployed, new)


def test_a_vpc_cidr_change_replaces_the_vpc() -> None:
    found = replacement.predict(
        "AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"}, {"CidrBlock": "10.1.0.0/16"}
    )
    assert found is not None
    assert (found.replacement, found.reason) == ("True", "CidrBlock is create-only")


def test_a_target_group_port_change_replaces_it() -> None:
    found = replacement.predict(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {"Port": 8448, "HealthCheckPath": "/_health"},
        {"Port": 8080, "HealthCheckPath": "/_health"},
    )
    assert found is not None and found.replacement == "True" and found.because == ("Port",)


def test_a_load_balancer_scheme_change_replaces_it_and_is_flagged() -> None:
    deployed = templates_support.stack_template("local", "environment")
    new = copy.deepcopy(deployed)
    new["Resources"]["LoadBalancer"]["Properties"]["Scheme"] = "internal"
    shown = reviewed(
        deployed, new, [modify("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer")]
    )
    (row,) = shown.rows
    assert (row.replacement, row.replacement_source) == ("True", "predicted")
    assert "will be REPLACED (predicted from its schema: Scheme is create-only)" in (
        review_text.render(shown)
    )
    assert [risk.code for risk in shown.risks] == ["replace-data"]


def test_a_task_definition_change_is_a_new_revision() -> None:
    found = replacement.predict("AWS::ECS::TaskDefinition", {"Cpu": "256"}, {"Cpu": "512"})
    assert found is not None and found.replacement == "True"
    assert found.reason.startswith("a new revision is registered")


def test_an_in_place_update_is_predicted_as_such() -> None:
    found = replacement.predict("AWS::ECS::Service", {"DesiredCount": 1}, {"DesiredCount": 2})
    assert found is not None and found.replacement == "False"


def test_the_vpc_and_what_depends_on_it_are_replaced_together() -> None:
    deployed = templates_support.stack_template("local", "network")
    new = json.loads(json.dumps(deployed).replace('"10.0.', '"10.9.'))
    changes = [
        modify(logical, resource["Type"])
        for logical, resource in new["Resources"].items()
        if resource != deployed["Resources"][logical]
    ]
    shown = reviewed(deployed, new, changes)
    vpc = next(row for row in shown.rows if row.logical_id == "Vpc")
    assert vpc.replacement == "True"
    assert any(d.startswith("PublicRouteTable (VpcId refers to Vpc)") for d in vpc.replaced_with)
    assert any(risk.logical_id == "Vpc" for risk in shown.risks)
    text = review_text.render(shown)
    assert "replaced along with it: " in text


def test_aws_reported_replacement_wins_and_a_disagreement_is_shown() -> None:
    deployed = templates_support.stack_template("local", "network")
    new = copy.deepcopy(deployed)
    new["Resources"]["Vpc"]["Properties"]["CidrBlock"] = "10.9.0.0/16"
    shown = reviewed(deployed, new, [modify("Vpc", "AWS::EC2::VPC", reported="False")])
    (row,) = shown.rows
    assert (row.replacement, row.replacement_source) == ("False", "aws")
    assert "AWS reports Replacement False; the resource schema predicts True" in row.disagreement
    assert row.disagreement in review_text.render(shown)
    assert shown.risks == []  # AWS's answer counts


def test_a_stack_taking_a_replaced_upstream_id_says_what_it_replaces_then() -> None:
    template = templates_support.stack_template("local", "svc-web")
    found = ChangeSet(ARN, STACK_ID, "deploy-x", "UPDATE", {"StackName": "s"}, [], True)
    shown = review.build(
        found,
        "us-east-1",
        {},
        set(),
        template,
        template,
        upstream={"VpcId": "network's Vpc is replaced"},
    )
    assert not shown.empty  # nothing in the change set, yet the stack will change
    (line,) = shown.upstream_replaced
    assert line.startswith("VpcId: network's Vpc is replaced; once that is deployed, this stack")
    for replaced in ("TargetGroup (VpcId)", "ServiceSecurityGroup (VpcId)"):
        assert replaced in line
    assert "After the upstream replacements" in review_text.render(shown)
