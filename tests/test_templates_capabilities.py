"""The capabilities each stack's change sets acknowledge are derived from its template
(templates/capabilities.py), and are what AWS requires of it: checked, for every stack of every
environment, against local_conformance.py, the proxy's reading of AWS's rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from troposphere import Template, iam, sns

import generate
from environments import load
from local_conformance import missing_capabilities, required_capabilities
from templates.capabilities import capabilities

ENVIRONMENTS = sorted(p.stem for p in Path("environments").glob("*.toml"))


def manifest_and_templates(name: str) -> tuple[dict, dict[str, dict]]:
    files = generate.generate(load(name), "test")
    manifest = json.loads(files[generate.MANIFEST])
    templates = {n.removesuffix(".json"): json.loads(v) for n, v in files.items()}
    return manifest, templates


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_stack_acknowledges_exactly_what_aws_requires(name: str) -> None:
    manifest, templates = manifest_and_templates(name)
    assert manifest["stacks"]
    for stack in manifest["stacks"]:
        template = templates[stack["key"]]
        given = stack["capabilities"]
        for action in ("CreateChangeSet", "CreateStack"):
            assert missing_capabilities(template, action, given) == [], (name, stack["key"])
        assert given == required_capabilities(template, "CreateStack"), (name, stack["key"])


def test_the_network_stack_acknowledges_its_flow_log_role() -> None:
    manifest, templates = manifest_and_templates("production")
    (network,) = [s for s in manifest["stacks"] if s["key"] == "network"]
    assert "AWS::IAM::Role" in {r["Type"] for r in templates["network"]["Resources"].values()}
    assert network["capabilities"] == ["CAPABILITY_IAM"]


@pytest.mark.parametrize("name", ["production", "staging"])
def test_the_ci_stack_names_its_roles_and_needs_named_iam(name: str) -> None:
    env = load(name)
    ci = generate.build_ci(env, generate.build(env, "test"))
    assert ci is not None
    assert capabilities(ci.template) == ("CAPABILITY_NAMED_IAM",)
    assert missing_capabilities(ci.template.to_dict(), "CreateStack", ["CAPABILITY_IAM"]) == [
        "CAPABILITY_NAMED_IAM"
    ]


def role(**named: str) -> iam.Role:
    trust = {"Version": "2012-10-17", "Statement": []}
    return iam.Role("Role", AssumeRolePolicyDocument=trust, **named)


def test_capabilities_follow_the_template() -> None:
    template = Template()
    template.add_resource(sns.Topic("Topic"))
    assert capabilities(template) == ()
    template.add_resource(role())
    assert capabilities(template) == ("CAPABILITY_IAM",)
    template.add_resource(iam.InstanceProfile("Profile", Roles=["r"], InstanceProfileName="p"))
    assert capabilities(template) == ("CAPABILITY_NAMED_IAM",)
    template.set_transform("AWS::LanguageExtensions")
    assert capabilities(template) == ("CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
