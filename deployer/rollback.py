"""Roll the service back to the image it ran before, and the record that makes it possible.

Where the tags are recorded: one SSM parameter per service stack,
`/<stack name>/deployed-image-tag`, written by the deployer (not by the stack) after each
successful deploy. Its GetParameterHistory is the log: every version keeps its value (the tag),
its date, who wrote it, and its description ("deploy: ..." or "rollback: ..."). It survives the
stack (deleting the stack leaves it), costs nothing in the standard tier, keeps the last 100
versions, and `aws ssm get-parameter-history` reads it without this tool. Stack tags would be
lost with the stack, and changing them updates every taggable resource of the stack.

The rollback target is the tag deployed before the one running now, where a rollback undoes
the deploy it leaves: after v1, v2, v3 and a rollback to v2, the next rollback goes to v1,
never forward to v3.

The rollback itself is an ordinary change set, reviewed and confirmed like any deploy: the
deployed template as it is (UsePreviousTemplate; GetTemplate's copy is what the review reads),
every parameter as the stack has it, except the image tag.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deployer import changeset
from deployer.errors import DeployError
from deployer.follow import describe_stack
from deployer.manifest import Image, Manifest, ManifestError, StackSpec
from deployer.params import Resolver
from deployer.run import Deployer, Options

IMAGE_TAG_PARAMETER = "ImageTag"  # the service stack's parameter (templates/parameters.py)
SSM_TYPE = "AWS::SSM::Parameter::Value<"
DEPLOY, ROLLBACK = "deploy", "rollback"


class NothingToRollBack(DeployError):
    """No earlier image is recorded for the stack."""


@dataclass(frozen=True)
class Entry:
    tag: str
    kind: str  # DEPLOY or ROLLBACK
    when: str


def parameter_name(spec: StackSpec) -> str:
    return f"/{spec.stack_name}/deployed-image-tag"


def image_stack(
    manifest: Manifest, service: str | None = None, verb: str = "rollback"
) -> StackSpec:
    """The stack of `service` (a [services.NAME]); without one, the environment's only
    service's. An environment of several services is refused without one, naming them: a
    rollback is of the service that misbehaves, never of the others with it."""
    if service is not None:
        try:
            return manifest.stack(manifest.service(service).stack)
        except ManifestError as error:
            raise DeployError(str(error)) from None
    if len(manifest.services) == 1:
        return manifest.stack(manifest.services[0].stack)
    if not manifest.services:
        raise DeployError(f"{manifest.path}: the environment has no service")
    names = ", ".join(s.name for s in manifest.services)
    raise DeployError(
        f"environments/{manifest.environment}.toml has {len(manifest.services)} services "
        f"({names}): name the service, e.g. make {verb} ENV={manifest.environment} "
        f"SERVICE={manifest.services[0].name} (deploy.py {verb} --service NAME)"
    )


def history(ssm: Any, name: str) -> list[Entry]:
    """The recorded deploys, oldest first; empty when nothing was recorded yet."""
    request: dict[str, Any] = {"Name": name, "MaxResults": 50}
    versions: list[dict[str, Any]] = []
    while True:
        try:
            page = ssm.get_parameter_history(**request)
        except ssm.exceptions.ParameterNotFound:
            return []
        versions.extend(page.get("Parameters", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    versions.sort(key=lambda version: version.get("Version", 0))
    return [
        Entry(
            version["Value"],
            ROLLBACK if version.get("Description", "").startswith(ROLLBACK) else DEPLOY,
            when_text(version.get("LastModifiedDate")),
        )
        for version in versions
    ]


def lineage(entries: list[Entry]) -> list[str]:
    """The tags that led to the one running now, oldest first: a rollback cuts off what it
    undid; a deploy of the tag already on top adds nothing."""
    tags: list[str] = []
    for entry in entries:
        if entry.kind == ROLLBACK and entry.tag in tags:
            del tags[len(tags) - tags[::-1].index(entry.tag) :]
        elif not tags or tags[-1] != entry.tag:
            tags.append(entry.tag)
    return tags


def previous(entries: list[Entry], current: str) -> str | None:
    """The tag to roll back to from `current`, or None."""
    tags = lineage(entries)
    if current in tags:
        tags = tags[: len(tags) - tags[::-1].index(current) - 1]
    return next((tag for tag in reversed(tags) if tag != current), None)


def record(ssm: Any, name: str, tag: str, kind: str, revision: str) -> bool:
    """Record a successful deploy of `tag`; a deploy of the tag recorded last adds nothing.
    Returns whether a version was written."""
    entries = history(ssm, name)
    if kind == DEPLOY and entries and entries[-1].tag == tag:
        return False
    ssm.put_parameter(
        Name=name,
        Value=tag,
        Type="String",
        Overwrite=True,
        Description=f"{kind}: image tag {tag}, by deploy.py from revision {revision}",
    )
    return True


def current_tag(stack: dict[str, Any]) -> str | None:
    for parameter in stack.get("Parameters", []):
        if parameter["ParameterKey"] == IMAGE_TAG_PARAMETER:
            return str(parameter.get("ParameterValue"))
    return None


class PreviousValues(Resolver):
    """The image tag rolled back to, and every other parameter as the stack has it.

    A parameter is given the value a deploy would give it (the manifest's, the upstream
    stacks', the hosted zone's...) where that is what the stack runs with; a NoEcho one, or
    one whose value changed since (the environment moved on), keeps the stack's previous
    value. SSM-typed parameters are given by name, as at every deploy: CloudFormation
    resolves the name each time (the stack shows the value it resolved, not the name)."""

    def __init__(
        self, base: Resolver, stack: dict[str, Any], tag: str, original: StackSpec
    ) -> None:
        super().__init__(base.cf, base.manifest, base.environ, base.client)
        self.stack = stack
        self.tag = tag
        # what a deploy passes, without the NoEcho values it takes from the environment
        self.original = replace(original, parameters_from_env={})

    def parameters(self, spec: StackSpec, exists: bool = True) -> list[dict[str, Any]]:
        """`exists`: a rollback's stack always does."""
        declared = spec.template.get("Parameters", {})
        types = changeset.parameter_types(spec.template)
        running = changeset.parameter_values(self.stack, types)
        resolved = super().parameters(self.original, exists)
        planned = {p["ParameterKey"]: p["ParameterValue"] for p in resolved}
        found: list[dict[str, Any]] = []
        for key in sorted(declared):
            kind = types.get(key, "")
            value = planned.get(key)
            as_running = changeset.parameter_values(
                {"Parameters": [{"ParameterKey": key, "ParameterValue": value or ""}]}, types
            ).get(key)
            if key == IMAGE_TAG_PARAMETER:
                found.append({"ParameterKey": key, "ParameterValue": self.tag})
            elif (
                value is not None
                and not declared[key].get("NoEcho")
                and (kind.startswith(SSM_TYPE) or running.get(key) == as_running)
            ):
                found.append({"ParameterKey": key, "ParameterValue": value})
            else:
                found.append({"ParameterKey": key, "UsePreviousValue": True})
        return found


@dataclass(frozen=True)
class Plan:
    spec: StackSpec  # the stack with its deployed template, its parameters kept as they are
    original: StackSpec  # the stack as the manifest has it: where a deploy takes each value
    manifest: Manifest  # the manifest with the image rolled back to
    stack: dict[str, Any]
    current: str
    target: str


def plan(cf: Any, ssm: Any, manifest: Manifest, workdir: Path, service: str | None = None) -> Plan:
    """What the rollback of `service` will deploy; NothingToRollBack when no earlier tag is
    recorded."""
    spec = image_stack(manifest, service)
    stack = describe_stack(cf, spec.stack_name)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        raise NothingToRollBack(f"stack {spec.stack_name} is not deployed: nothing to roll back")
    current = current_tag(stack)
    if current is None:
        raise DeployError(f"stack {spec.stack_name} has no {IMAGE_TAG_PARAMETER} parameter")
    name = parameter_name(spec)
    target = previous(history(ssm, name), current)
    if target is None:
        raise NothingToRollBack(
            f"nothing to roll back to: {spec.stack_name} runs image {current}, and SSM "
            f"parameter {name} records no image deployed before it"
        )
    body = cf.get_template(StackName=stack["StackId"], TemplateStage="Original")["TemplateBody"]
    path = workdir / f"{spec.key}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body, indent=2))
    deployed = replace(
        spec,
        template_path=path,
        parameters={},
        parameters_from_stacks={},
        parameters_from_env={},
        parameters_from_hosted_zone=(),
        parameters_from_certificate=(),
        prerequisites=(),
    )
    deployed.template_body()  # read now: the directory goes once the rollback is deployed
    return Plan(deployed, spec, with_tag(manifest, spec, target), stack, current, target)


def with_tag(manifest: Manifest, spec: StackSpec, tag: str) -> Manifest:
    """The manifest with `spec`'s service running image `tag` (the rollback's target)."""
    services = tuple(
        replace(service, image=Image(service.image.repository_name, tag))
        if service.stack == spec.key and service.image is not None
        else service
        for service in manifest.services
    )
    return replace(manifest, services=services)


class RollbackDeployer(Deployer):
    """A deploy of the stack as it is: its own template (UsePreviousTemplate), the image tag
    rolled back to, every other parameter as the stack has it (PreviousValues)."""

    def __init__(self, aws: Any, found: Plan, options: Options, say: Callable[[str], None]):
        super().__init__(aws, found.manifest, options, say)
        self.resolver = PreviousValues(self.resolver, found.stack, found.target, found.original)

    def template_argument(
        self, spec: StackSpec, stack: dict[str, Any] | None, body: str
    ) -> dict[str, Any]:
        return {"UsePreviousTemplate": True}


def run(
    aws: Any,
    manifest: Manifest,
    options: Options,
    say: Callable[[str], None],
    service: str | None = None,
) -> Deployer:
    """Plan the rollback of `service` and deploy it as a reviewed change set; returns the
    Deployer that did (its results, its manifest with the image rolled back to)."""
    with tempfile.TemporaryDirectory(prefix="rollback-") as workdir:
        found = plan(aws.cloudformation, aws.client("ssm"), manifest, Path(workdir), service)
        say(
            f"Rolling {found.spec.stack_name} back from image {found.current} to "
            f"{found.target} (recorded in SSM parameter {parameter_name(found.spec)}); "
            "only the image tag changes"
        )
        deployer = RollbackDeployer(aws, found, options, say)
        deployer.run([found.spec])
    return deployer


def when_text(moment: Any) -> str:
    """A datetime from botocore, to the second; "" for anything else."""
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if hasattr(moment, "strftime") else ""
