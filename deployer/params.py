"""Stack parameters: the manifest's values, other stacks' resources or outputs, the hosted
zone's ID, and NoEcho values from the environment (never written to git or build/).

An output is read as deploy.py reports it (deployer/outputs.py): from DescribeStacks, or, where
that gives none (moto, for stacks created through change sets), evaluated from the template's
Outputs and the stack's resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deployer import outputs
from deployer.errors import PreflightError
from deployer.follow import describe_stack
from deployer.manifest import FromStack, Manifest, StackSpec
from deployer.status import is_missing_stack


class UpstreamMissing(Exception):
    """An upstream stack (or one of its resources) does not exist yet."""


class Resolver:
    """Resolves parameters; reads each upstream stack's resources and outputs once per deploy."""

    def __init__(
        self,
        cf: Any,
        manifest: Manifest,
        environ: Mapping[str, str],
        client: Callable[[str], Any],
    ) -> None:
        self.cf = cf
        self.manifest = manifest
        self.environ = environ
        self.client = client
        self._resources: dict[str, dict[str, str]] = {}
        self._outputs: dict[str, dict[str, outputs.Output]] = {}
        self._zone_id: str | None = None

    def forget(self, stack_key: str) -> None:
        """The stack was just updated: its physical IDs and outputs may have changed."""
        self._resources.pop(stack_key, None)
        self._outputs.pop(stack_key, None)

    def check_environment(self, spec: StackSpec) -> None:
        missing = [var for var in spec.parameters_from_env.values() if not self.environ.get(var)]
        if missing:
            names = ", ".join(sorted(missing))
            raise PreflightError(
                f"stack {spec.stack_name} needs {names} in the environment (NoEcho parameters, "
                "never stored in git): export it and run again"
            )

    def parameters(self, spec: StackSpec) -> list[dict[str, str]]:
        values = dict(spec.parameters)
        for name, ref in spec.parameters_from_stacks.items():
            values[name] = self.from_stack(ref)
        for name in spec.parameters_from_hosted_zone:
            values[name] = self.hosted_zone_id()
        for name, var in spec.parameters_from_env.items():  # check_environment(spec) came first
            values[name] = self.environ[var]
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]

    def from_stack(self, ref: FromStack) -> str:
        if ref.output is not None:
            return self.output(ref.stack, ref.output)
        physical = self.physical_ids(ref.stack)
        missing = [r for r in ref.resources if r not in physical]
        if missing:
            upstream = self.manifest.stack(ref.stack).stack_name
            raise UpstreamMissing(f"{upstream} has no resource {', '.join(missing)} yet")
        return ",".join(physical[r] for r in ref.resources)

    def stack_outputs(self, spec: StackSpec, stack: dict[str, Any]) -> list[outputs.Output]:
        """The outputs of the stack as `stack` (its DescribeStacks description) shows it,
        kept for the stacks downstream that read them."""
        found = outputs.outputs(
            lambda: self.physical_ids(spec.key), self.client, stack, lambda: spec.template
        )
        self._outputs[spec.key] = {o.key: o for o in found}
        return found

    def output(self, stack_key: str, key: str) -> str:
        """The value of the stack's Output `key`; UpstreamMissing until the stack has one.
        DescribeStacks is asked only when this run has not read the stack's outputs yet."""
        if stack_key not in self._outputs:
            spec = self.manifest.stack(stack_key)
            stack = describe_stack(self.cf, spec.stack_name)
            if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
                raise UpstreamMissing(f"{spec.stack_name} does not exist yet")
            self.stack_outputs(spec, stack)
        found_output = self._outputs[stack_key].get(key)
        if found_output is None or found_output.value is None:
            name = self.manifest.stack(stack_key).stack_name
            why = f" ({found_output.source})" if found_output is not None else ""
            raise UpstreamMissing(f"{name} has no output {key} yet{why}")
        return found_output.value

    def hosted_zone_id(self) -> str:
        """The ID of the manifest's hosted zone, which the account must already have."""
        if self._zone_id is None:
            name = self.manifest.hosted_zone_name or ""
            self._zone_id = find_hosted_zone(self.client("route53"), name)
            if self._zone_id is None:
                raise PreflightError(
                    f"hosted zone {name} does not exist in this account: the stacks need it"
                )
        return self._zone_id

    def physical_ids(self, stack_key: str) -> dict[str, str]:
        if stack_key not in self._resources:
            from botocore.exceptions import ClientError

            name = self.manifest.stack(stack_key).stack_name
            try:
                found = self.cf.describe_stack_resources(StackName=name)["StackResources"]
            except ClientError as error:
                if is_missing_stack(error):
                    raise UpstreamMissing(f"{name} does not exist yet") from None
                raise
            self._resources[stack_key] = {
                r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in found
                if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
            }
        return self._resources[stack_key]


def find_hosted_zone(route53: Any, name: str) -> str | None:
    """The ID of the hosted zone named `name` (with its final dot), or None."""
    found = route53.list_hosted_zones_by_name(DNSName=name, MaxItems="1")
    zones = [z for z in found["HostedZones"] if z["Name"] == name]
    return zones[0]["Id"].rsplit("/", 1)[-1] if zones else None
