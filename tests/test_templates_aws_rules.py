"""Issue 16's stack fixes, read off every environment's generated templates and manifest:
records name their zone by ID, the load balancer is protected only once the stack exists, the
service has no DesiredCount (autoscaling's), the S3 prefix list is a parameter the deployer
reads from EC2, never an ID written in a template."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import generate
from environments import load

ENVIRONMENTS = sorted(p.stem for p in Path("environments").glob("*.toml"))


@cache
def built(name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    files = generate.generate(load(name), "test")
    manifest = json.loads(files[generate.MANIFEST])
    return manifest, {s["key"]: json.loads(files[s["template"]]) for s in manifest["stacks"]}


def resolve(value: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Fn::If on the template's conditions (Fn::Equals of a Ref and a string), as
    CloudFormation evaluates it for `parameters`; AWS::NoValue reads as None."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, then, otherwise = value["Fn::If"]
        (left, right) = template["Conditions"][name]["Fn::Equals"]
        chosen = then if parameters[left["Ref"]] == right else otherwise
        return resolve(chosen, template, parameters)
    if value == {"Ref": "AWS::NoValue"}:
        return None
    return value


def stack(name: str, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest, templates = built(name)
    (spec,) = [s for s in manifest["stacks"] if s["key"] == key]
    return spec, templates[key]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_record_names_its_zone_by_the_id_the_deployer_fills(name: str) -> None:
    manifest, templates = built(name)
    records = 0
    for spec in manifest["stacks"]:
        for resource in templates[spec["key"]]["Resources"].values():
            if resource["Type"] == "AWS::Route53::RecordSet":
                records += 1
                assert "HostedZoneName" not in resource["Properties"]
                zone = resource["Properties"]["HostedZoneId"]["Ref"]
                assert zone in spec["parameters_from_hosted_zone"]
    assert records


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_load_balancer_protection_is_off_on_the_first_create_only(name: str) -> None:
    spec, template = stack(name, "environment")
    attributes = template["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    (protection,) = [a["Value"] for a in attributes if a["Key"] == "deletion_protection.enabled"]
    if not load(name).termination_protection:
        assert protection == "false"
        assert spec["parameters_from_stack_exists"] == []  # nothing differs on the first create
        return
    (exists,) = spec["parameters_from_stack_exists"]
    assert resolve(protection, template, {exists: "false"}) == "false"  # rollback can delete it
    assert resolve(protection, template, {exists: "true"}) == "true"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_the_task_count_is_left_to_autoscaling(name: str) -> None:
    """No DesiredCount: an update leaves the count autoscaling set; a new service starts at 1
    and its new scalable target brings it inside [min_count, max_count]."""
    _, template = stack(name, "svc-web")
    assert "DesiredCount" not in template["Resources"]["Service"]["Properties"]
    service = load(name).services[0]
    targets = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    assert [(t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("ecs:service:DesiredCount", service.min_count, service.max_count)
    ]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_no_template_writes_a_prefix_list_id(name: str) -> None:
    _, templates = built(name)
    for key, template in templates.items():
        assert not re.search(r"pl-[0-9a-f]{8}", json.dumps(template)), key
    spec, template = stack(name, "svc-web")
    egress = template["Resources"]["ServiceSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    to_prefix_lists = [
        r["DestinationPrefixListId"] for r in egress if "DestinationPrefixListId" in r
    ]
    assert to_prefix_lists == [{"Ref": name} for name in spec["parameters_from_s3_prefix_list"]]
    assert bool(to_prefix_lists) == load(name).network.placement.through_endpoints
