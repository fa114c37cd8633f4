"""Stacks of this environment whose service is no longer in its file: found by the tags every
stack carries (manifest.ENVIRONMENT_TAG, and SERVICE_TAG on a service's stacks), shown in the
plan with the command that deletes them. Nothing here deletes anything.

ListStacks gives names without tags; only the names that start as this environment's stacks do
are described (DescribeStacks on a stack of the app: what the deploy and plan roles may read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manifest import ENVIRONMENT_TAG, SERVICE_TAG, Manifest


@dataclass(frozen=True)
class Tagged:
    """A stack that carries this environment's tag."""

    stack_name: str
    service: str | None  # its SERVICE_TAG; None for a shared stack
    stack: dict[str, Any]  # as DescribeStacks gave it

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "service": self.service,
            "status": self.stack["StackStatus"],
        }


def prefixes(manifest: Manifest) -> set[str]:
    """How this environment's stack names start (`<app>-<env>-` before each key)."""
    return {
        spec.stack_name[: -len(spec.key)]
        for spec in manifest.stacks
        if spec.stack_name.endswith(spec.key) and len(spec.stack_name) > len(spec.key)
    }


def tagged(cf: Any, manifest: Manifest) -> list[Tagged]:
    """Every live stack tagged with this environment, in ListStacks' order."""
    starts = tuple(prefixes(manifest))
    found = []
    # Every status but DELETE_COMPLETE (as botocore's model lists them): a stack that exists.
    live = [
        s for s in cf.meta.service_model.shape_for("StackStatus").enum if s != "DELETE_COMPLETE"
    ]
    for page in cf.get_paginator("list_stacks").paginate(StackStatusFilter=live):
        for summary in page["StackSummaries"]:
            name = summary["StackName"]
            if not starts or not name.startswith(starts):
                continue
            stacks = cf.describe_stacks(StackName=summary["StackId"])["Stacks"]
            tags = {t["Key"]: t["Value"] for t in stacks[0].get("Tags", [])} if stacks else {}
            if tags.get(ENVIRONMENT_TAG) == manifest.environment:
                found.append(Tagged(name, tags.get(SERVICE_TAG), stacks[0]))
    return found


def find(cf: Any, manifest: Manifest) -> list[Tagged]:
    """This environment's stacks that belong to a service the manifest no longer has."""
    names = {spec.stack_name for spec in manifest.stacks}
    services = {spec.service for spec in manifest.stacks if spec.service}
    return [
        t
        for t in tagged(cf, manifest)
        if t.stack_name not in names and t.service is not None and t.service not in services
    ]


def lines(orphans: list[Tagged], manifest: Manifest) -> list[str]:
    """What the plan says of them: each, why, and the command that deletes it."""
    said = []
    for orphan in orphans:
        said += [
            f"== {orphan.stack_name}: ORPHAN ({orphan.stack['StackStatus']})",
            f"  service {orphan.service} is no longer in {manifest.source}; its stack stays "
            "until it is deleted, after its review:",
            f"  make destroy ENV={manifest.environment} SERVICE={orphan.service}",
        ]
    return said
