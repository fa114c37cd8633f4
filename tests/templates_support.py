"""What the template tests read: a stack's generated template, as CloudFormation sees it."""

from __future__ import annotations

from functools import cache
from typing import Any

from environments import load
from templates import build_stacks


@cache
def stack_template(env_name: str = "production", key: str = "svc-web") -> dict[str, Any]:
    (stack,) = [s for s in build_stacks(load(env_name), "test") if s.key == key]
    return stack.template.to_dict()


def properties(name: str, env_name: str = "production", key: str = "svc-web") -> dict[str, Any]:
    return stack_template(env_name, key)["Resources"][name]["Properties"]


def resources_of_type(
    kind: str, env_name: str = "production", key: str = "svc-web"
) -> dict[str, dict[str, Any]]:
    resources = stack_template(env_name, key)["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == kind}


def filled(value: Any, parameters: dict[str, str]) -> Any:
    """`value` with the given parameters' references replaced by their values, as
    CloudFormation fills them (a `Fn::Join` of strings alone is the string it makes)."""
    if isinstance(value, list):
        return [filled(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        parts = filled(parts, parameters)
        joined = all(isinstance(part, str) for part in parts)
        return separator.join(parts) if joined else {"Fn::Join": [separator, parts]}
    return {key: filled(v, parameters) for key, v in value.items()}


@cache
def filled_template(env_name: str = "production", key: str = "svc-web") -> dict[str, Any]:
    """The stack's template with the values the manifest gives its parameters (the deployer
    passes them to the change set): what the stack is once created."""
    (stack,) = [s for s in build_stacks(load(env_name), "test") if s.key == key]
    template: dict[str, Any] = filled(stack.template.to_dict(), stack.parameters)
    return template
