"""A small IAM policy evaluator for the tests, for the cases these templates use.

An explicit Deny wins; otherwise some Allow must match the action (Action or NotAction, with
IAM's `*` and `?`, case-insensitive), the resource (Resource, case-sensitive wildcards) and
every condition. A role with a permissions boundary is allowed only what both its policies and
its boundary allow. Conditions: the String and Arn operators (Equals, Like, their negations),
each with IAM's rule for a key absent from the request (a positive operator does not match, a
negated one does); any other operator fails the test rather than being guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

POSITIVE = {"StringEquals", "StringLike", "ArnEquals", "ArnLike"}
NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
PSEUDO_KEYS = ("AWS::Partition", "AWS::Region", "AWS::AccountId")


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(value: str, pattern: str, *, case: bool = True) -> bool:
    # IAM's wildcards only: * and ?; fnmatch's [...] never appears in these patterns.
    return fnmatchcase(value, pattern) if case else fnmatchcase(value.lower(), pattern.lower())


def _condition(operator: str, key: str, wanted: Any, context: Mapping[str, str]) -> bool:
    base = operator.removesuffix("IfExists")
    if base not in POSITIVE | NEGATED:
        raise AssertionError(f"the test evaluator does not know the operator {operator}")
    if key not in context:
        return base in NEGATED or operator.endswith("IfExists")
    value = context[key]
    like = base.endswith("Like") or base.startswith("Arn")
    matched = any(_like(value, str(w)) if like else value == str(w) for w in listed(wanted))
    return not matched if base in NEGATED else matched


def _matches(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if "Action" in statement:
        if not any(_like(action, a, case=False) for a in listed(statement["Action"])):
            return False
    elif any(_like(action, a, case=False) for a in listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_like(resource, r) for r in listed(statement["Resource"])):
            return False
    elif any(_like(resource, r) for r in listed(statement["NotResource"])):
        return False
    return all(
        _condition(operator, key, wanted, context)
        for operator, conditions in statement.get("Condition", {}).items()
        for key, wanted in conditions.items()
    )


def allows(
    statements: Iterable[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    found = list(statements)
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, context) for s in found):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource, context) for s in found)


@dataclass(frozen=True)
class Principal:
    """A role as IAM sees it: its policies' statements and, if it has one, its boundary's."""

    statements: tuple[Mapping[str, Any], ...]
    boundary: tuple[Mapping[str, Any], ...] | None = None

    def allowed(self, action: str, resource: str, **context: str) -> bool:
        keys = {k.replace("__", ":"): v for k, v in context.items()}
        if not allows(self.statements, action, resource, keys):
            return False
        return self.boundary is None or allows(self.boundary, action, resource, keys)


def resolver(pseudo: Mapping[str, str], refs: Mapping[str, str]) -> Any:
    """A function that resolves a template value as CloudFormation would: Fn::Sub, Fn::Join,
    the pseudo parameters, and Ref / Fn::GetAtt Arn of the resources in `refs` (logical ID ->
    ARN)."""

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            return re.sub(r"\$\{([^}]+)\}", lambda m: {**pseudo, **refs}[m[1]], text)
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(parts))
        if set(value) == {"Ref"}:
            return {**pseudo, **refs}[value["Ref"]]
        if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn":
            return refs[value["Fn::GetAtt"][0]]
        return {k: resolve(v) for k, v in value.items()}

    return resolve


def principal(
    template: Mapping[str, Any],
    role: str,
    resolve: Any,
    elsewhere: Mapping[str, Any] | None = None,
) -> Principal:
    """The role `role` of `template`, with its inline and managed policies and its boundary,
    looked up by the ARN their Ref resolves to in the same template, or in `elsewhere` (another
    stack's template: the ci stack's boundary, named by ARN)."""
    resources = {**(elsewhere or {}).get("Resources", {}), **template["Resources"]}
    properties = resolve(resources[role]["Properties"])
    statements = [
        s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]
    ]
    by_arn = {
        resolve({"Ref": name}): resolve(r["Properties"]["PolicyDocument"])["Statement"]
        for name, r in resources.items()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    }
    for arn in properties.get("ManagedPolicyArns", []):
        statements += by_arn[arn]
    boundary = properties.get("PermissionsBoundary")
    return Principal(tuple(statements), None if boundary is None else tuple(by_arn[boundary]))


def arns(template: Mapping[str, Any], stack: str, pseudo: Mapping[str, str]) -> dict[str, str]:
    """What Ref and Fn::GetAtt Arn of the template's IAM resources, log groups and buckets
    resolve to once deployed as `stack`: the given names, else the names CloudFormation generates
    (<stack>-<logical ID>-<suffix>)."""
    partition, region, account = (pseudo[k] for k in PSEUDO_KEYS)
    found = {}
    for logical, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        generated = f"{stack}-{logical}-AB12CD"
        path = properties.get("Path", "/")
        match resource["Type"]:
            case "AWS::IAM::ManagedPolicy":
                name = properties.get("ManagedPolicyName", generated)
                found[logical] = f"arn:{partition}:iam::{account}:policy{path}{name}"
            case "AWS::IAM::Role":
                name = properties.get("RoleName", generated)
                found[logical] = f"arn:{partition}:iam::{account}:role{path}{name}"
            case "AWS::IAM::OIDCProvider":
                host = properties["Url"].removeprefix("https://")
                found[logical] = f"arn:{partition}:iam::{account}:oidc-provider/{host}"
            case "AWS::Logs::LogGroup":
                found[logical] = f"arn:{partition}:logs:{region}:{account}:log-group:{generated}:*"
            case "AWS::S3::Bucket":  # CloudFormation's bucket names are lowercase
                name = properties.get("BucketName", generated.lower())
                found[logical] = f"arn:{partition}:s3:::{name}"
            # Elastic Load Balancing's ARNs carry a generated name and an ID, never the stack's.
            case "AWS::ElasticLoadBalancingV2::TargetGroup":
                elb = f"arn:{partition}:elasticloadbalancing:{region}:{account}"
                found[logical] = f"{elb}:targetgroup/{logical[:6]}-AB12CD/0123456789abcdef"
            case "AWS::ElasticLoadBalancingV2::ListenerRule":
                elb = f"arn:{partition}:elasticloadbalancing:{region}:{account}"
                listener = "app/scalab-LoadB-AB12CD/0123456789abcdef/fedcba9876543210"
                found[logical] = f"{elb}:listener-rule/{listener}/{len(found):016x}"
    return found
