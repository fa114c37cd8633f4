"""The stack's outputs after a deploy (the service URL at least).

DescribeStacks gives Outputs on AWS. Where it gives none (moto, for stacks created through
change sets), the template's Outputs are evaluated from the stack's own resources and
parameters (DescribeStackResources), for the forms that allows: Ref, Fn::Sub, Fn::Join and
Fn::GetAtt of a few resource types that a describe call answers. The report says which way
each value was found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

FROM_STACK = "stack outputs"
FROM_RESOURCES = "template outputs evaluated from the stack's resources"


@dataclass(frozen=True)
class Output:
    key: str
    value: str | None
    description: str
    source: str  # FROM_STACK or FROM_RESOURCES; value None with the reason when unresolvable

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Unresolvable(Exception):
    pass


def outputs(
    physical_ids: Callable[[], dict[str, str]],
    client: Callable[[str], Any],
    stack: dict[str, Any],
    template: dict[str, Any] | Callable[[], dict[str, Any]],
) -> list[Output]:
    """physical_ids() gives the stack's logical ID -> physical ID (DescribeStackResources);
    it, and `template` when given as a function, are called only when DescribeStacks gave no
    Outputs."""
    if stack.get("Outputs"):
        return [
            Output(o["OutputKey"], o["OutputValue"], o.get("Description", ""), FROM_STACK)
            for o in stack["Outputs"]
        ]
    if callable(template):
        template = template()
    declared = template.get("Outputs", {})
    if not declared:
        return []
    evaluator = _Evaluator(stack, physical_ids(), template, client)
    found = []
    for key, output in sorted(declared.items()):
        try:
            value: str | None = evaluator.eval(output["Value"])
            source = FROM_RESOURCES
        except Unresolvable as why:
            value, source = None, f"not resolvable: {why}"
        found.append(Output(key, value, output.get("Description", ""), source))
    return found


def render_text(stack_name: str, found: list[Output], note: bool = True) -> str:
    """`note`: say under the outputs how they were read (deploy.py says it once per run)."""
    if not found:
        return f"Stack {stack_name}: no outputs"
    lines = [f"Outputs of {stack_name}:"]
    width = max(len(o.key) for o in found)
    for output in found:
        value = output.value if output.value is not None else f"({output.source})"
        lines.append(f"  {output.key.ljust(width)}  {value}")
    if note and any(o.source == FROM_RESOURCES for o in found):
        lines.append(f"  (DescribeStacks returned no Outputs: {FROM_RESOURCES})")
    return "\n".join(lines)


class _Evaluator:
    def __init__(
        self,
        stack: dict[str, Any],
        physical: dict[str, str],
        template: dict[str, Any],
        client: Callable[[str], Any],
    ) -> None:
        arn = stack["StackId"].split(":")
        self.pseudo = {
            "AWS::Region": arn[3],
            "AWS::AccountId": arn[4],
            "AWS::Partition": arn[1],
            "AWS::StackName": stack["StackName"],
            "AWS::StackId": stack["StackId"],
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.parameters = {
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        }
        self.physical = physical
        self.types = {k: v.get("Type", "") for k, v in template.get("Resources", {}).items()}
        self.client = client

    def eval(self, node: Any) -> str:
        if isinstance(node, str | int | float):
            return str(node)
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(self.eval(item) for item in items)
            if function == "Fn::Sub":
                text, names = (argument, {}) if isinstance(argument, str) else argument
                return re.sub(r"\$\{([^!}][^}]*)\}", lambda m: self._sub(m.group(1), names), text)
        raise Unresolvable(f"{str(node)[:60]} is not Ref/Sub/Join/GetAtt")

    def _sub(self, name: str, names: dict[str, Any]) -> str:
        if name in names:
            return self.eval(names[name])
        if "." in name and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def ref(self, name: str) -> str:
        for table in (self.pseudo, self.parameters, self.physical):
            if name in table:
                return table[name]
        raise Unresolvable(f"the stack reports no resource {name}")

    def get_att(self, name: str, attribute: str) -> str:
        physical = self.ref(name)
        kind = self.types.get(name, "")
        resolver = _GET_ATT.get((kind, attribute))
        if resolver is None:
            raise Unresolvable(f"Fn::GetAtt {name}.{attribute} ({kind}) has no describe call here")
        return resolver(self.client, physical)


def _load_balancer(attribute: str) -> Callable[[Callable[[str], Any], str], str]:
    def resolve(client: Callable[[str], Any], arn: str) -> str:
        found = client("elbv2").describe_load_balancers(LoadBalancerArns=[arn])
        return found["LoadBalancers"][0][attribute]

    return resolve


def _repository(attribute: str) -> Callable[[Callable[[str], Any], str], str]:
    def resolve(client: Callable[[str], Any], name: str) -> str:
        found = client("ecr").describe_repositories(repositoryNames=[name])
        return found["repositories"][0][attribute]

    return resolve


_GET_ATT: dict[tuple[str, str], Callable[[Callable[[str], Any], str], str]] = {
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName"): _load_balancer("DNSName"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "CanonicalHostedZoneID"): _load_balancer(
        "CanonicalHostedZoneId"
    ),
    ("AWS::ECR::Repository", "RepositoryUri"): _repository("repositoryUri"),
    ("AWS::ECR::Repository", "Arn"): _repository("repositoryArn"),
    ("AWS::ECS::Service", "Name"): lambda _client, arn: arn.rsplit("/", 1)[-1],
}
