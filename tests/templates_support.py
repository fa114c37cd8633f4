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
