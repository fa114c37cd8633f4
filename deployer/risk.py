"""Which changes deserve a warning above the review table, relative to what the template
declares it means to expose.

Every change that widens access becomes a Finding: a security-group rule (inbound from /
outbound to), a role's trust, an identity-policy statement, a resource-policy grant (bucket,
key, topic, repository), a loosened public access block. A finding that matches a declaration
in the resource's Metadata (templates/declared.py) is *declared*, shown with its reason; any
other stays RISKY. So does replacing or removing a resource that holds data or identity.
The rules read the resource's Properties before and after (the templates'), so both sides
are rendered the same way as the declarations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from accepted import entries
from deployer.intrinsics import render, shorten

ANYWHERE = {"0.0.0.0/0", "::/0"}

# Reason codes, for machines (the JSON review) and for the reader's eye.
INGRESS, EGRESS = "ingress", "egress"
TRUST, IDENTITY_POLICY, RESOURCE_POLICY = "trust", "identity-policy", "resource-policy"
PUBLIC_ACCESS = "public-access"
REPLACE, REMOVE = "replace-data", "remove-data"
UNREADABLE = "policy-values-unknown"

# Resource types whose replacement or removal loses data or an identity others rely on.
HOLDS_DATA_OR_IDENTITY = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "its DNS name changes; clients and DNS move",
    "AWS::ElasticLoadBalancing::LoadBalancer": "its DNS name changes; clients and DNS move",
    "AWS::Route53::RecordSet": "the name stops resolving while it is recreated",
    "AWS::Route53::RecordSetGroup": "the names stop resolving while they are recreated",
    "AWS::Route53::HostedZone": "the zone gets new name servers",
    "AWS::ECR::Repository": "the images in it are deleted",
    "AWS::S3::Bucket": "the objects in it are lost",
    "AWS::Logs::LogGroup": "the log history is lost",
    "AWS::KMS::Key": "data encrypted with it becomes unreadable",
    "AWS::KMS::Alias": "callers using the alias lose the key",
    "AWS::CertificateManager::Certificate": "the certificate is reissued and revalidated",
    "AWS::DynamoDB::Table": "the items in it are lost",
    "AWS::RDS::DBInstance": "the database is recreated",
    "AWS::EFS::FileSystem": "the files in it are lost",
    "AWS::EC2::VPC": "its ID changes: everything placed in it is replaced with it",
    "AWS::EC2::Subnet": "its ID changes: load balancers and tasks in it move",
}

# Where each type says who may do what: (property, code) pairs.
POLICIES: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::IAM::Role": (
        ("AssumeRolePolicyDocument", TRUST),
        ("Policies", IDENTITY_POLICY),
        ("ManagedPolicyArns", IDENTITY_POLICY),
    ),
    "AWS::IAM::Policy": (("PolicyDocument", IDENTITY_POLICY),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument", IDENTITY_POLICY),),
    "AWS::IAM::RolePolicy": (("PolicyDocument", IDENTITY_POLICY),),
    "AWS::IAM::User": (("Policies", IDENTITY_POLICY), ("ManagedPolicyArns", IDENTITY_POLICY)),
    "AWS::IAM::Group": (("Policies", IDENTITY_POLICY), ("ManagedPolicyArns", IDENTITY_POLICY)),
    "AWS::S3::BucketPolicy": (("PolicyDocument", RESOURCE_POLICY),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument", RESOURCE_POLICY),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument", RESOURCE_POLICY),),
    "AWS::ECR::Repository": (("RepositoryPolicyText", RESOURCE_POLICY),),
    "AWS::KMS::Key": (("KeyPolicy", RESOURCE_POLICY),),
}
# Who a policy is attached to: adding one widens what they may do.
ATTACHMENTS = {
    "AWS::IAM::Policy": ("Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": ("Roles", "Users", "Groups"),
}
PRINCIPAL_KINDS = {
    "AWS": "AWS",
    "Service": "service",
    "Federated": "federated",
    "CanonicalUser": "canonical user",
}
RULE_LISTS = {"SecurityGroupIngress": INGRESS, "SecurityGroupEgress": EGRESS}
RULE_TYPES = {"AWS::EC2::SecurityGroupIngress": INGRESS, "AWS::EC2::SecurityGroupEgress": EGRESS}
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


@dataclass(frozen=True)
class Finding:
    code: str
    logical_id: str
    resource_type: str
    what: str  # one line a person reads: "inbound tcp 22 from 0.0.0.0/0 (the whole internet)"
    declared: str = ""  # the declaration's reason, when the template declares this exposure

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return f"[{self.code}] {self.logical_id} ({self.resource_type}): {self.what}"


@dataclass(frozen=True)
class _Exposure:
    """What a finding is, as a declaration would say it: compared field by field."""

    kind: str
    fields: dict[str, Any]
    what: str


def findings(
    change: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    declarations: list[dict[str, Any]],
    replacement: str = "",
) -> list[Finding]:
    """The findings of one ResourceChange; before/after are its Properties where known, and
    `replacement` is AWS's Replacement where it gives one, else the schema's prediction."""
    action = change.get("Action", "")
    logical = change.get("LogicalResourceId", "?")
    kind = change.get("ResourceType", "?")
    found: list[Finding] = []

    def add(code: str, what: str, declared: str = "") -> None:
        found.append(Finding(code, logical, kind, what, declared))

    if kind in HOLDS_DATA_OR_IDENTITY:
        what = HOLDS_DATA_OR_IDENTITY[kind]
        if action == "Remove":
            add(REMOVE, f"removed: {what}")
        elif action == "Modify" and replacement in {"True", "Conditional"}:
            how = "replaced" if replacement == "True" else "may be replaced"
            add(REPLACE, f"{how}: {what}")
    if action not in {"Add", "Modify"}:
        return found
    if after is None:
        if kind in POLICIES or kind in RULE_TYPES or kind == "AWS::EC2::SecurityGroup":
            add(UNREADABLE, "its access rules changed, and neither AWS nor the templates say how")
        return found
    for code, exposure in _exposures(kind, before, after):
        reason = _declared(exposure, declarations)
        add(code, exposure.what, reason)
    return found


def _exposures(
    kind: str, before: dict[str, Any] | None, after: dict[str, Any]
) -> list[tuple[str, _Exposure]]:
    """Each way the new properties widen access over the old ones."""
    old = before or {}
    out: list[tuple[str, _Exposure]] = []
    for key, code in RULE_LISTS.items():
        if kind == "AWS::EC2::SecurityGroup":
            known = old.get(key) or []
            out.extend((code, _rule(code, r)) for r in after.get(key) or [] if r not in known)
    if kind in RULE_TYPES and old != after:
        out.append((RULE_TYPES[kind], _rule(RULE_TYPES[kind], after)))
    for key, code in POLICIES.get(kind, ()):
        known = _statements(old.get(key))
        for statement in _statements(after.get(key)):
            if statement not in known:
                out.extend((code, e) for e in _statement(code, statement))
    for key in ATTACHMENTS.get(kind, ()):
        known = old.get(key) or []
        out.extend(
            (IDENTITY_POLICY, _Exposure("attachment", {}, f"now attached to {render(who)}"))
            for who in after.get(key) or []
            if who not in known
        )
    if kind == "AWS::S3::Bucket":
        out.extend((PUBLIC_ACCESS, e) for e in _public_access(old, after))
    return out


ICMP = ("icmp", "1")


def _rule(direction: str, rule: Any) -> _Exposure:
    if not isinstance(rule, dict):
        return _Exposure(direction, {}, f"rule {render(rule)}")
    peer = next(
        (
            rule[k]
            for k in (
                "CidrIp",
                "CidrIpv6",
                "SourceSecurityGroupId",
                "DestinationSecurityGroupId",
                "SourcePrefixListId",
                "DestinationPrefixListId",
            )
            if k in rule
        ),
        "?",
    )
    protocol = render(rule.get("IpProtocol", "?"))
    protocol = "all protocols" if protocol == "-1" else protocol
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol == "all protocols" or low in (None, -1):
        ports = "all"
    else:
        ports = render(low) if render(low) == render(high) else f"{render(low)}-{render(high)}"
    shown_peer = render(peer)
    wide = " (the whole internet)" if shown_peer in ANYWHERE else ""
    port_text = "all ports" if ports == "all" else f"port {ports}"
    if protocol in ICMP and ports != "all":  # for ICMP, EC2 reads the "ports" as type and code
        port_text = f"type {render(low)} code {render(high)}"
    if direction == INGRESS:
        what = f"inbound {protocol} {port_text} from {shown_peer}{wide}"
    else:
        what = f"outbound {protocol} {port_text} to {shown_peer}{wide}"
    return _Exposure(
        direction,
        {
            "Protocol": "-1" if protocol == "all protocols" else protocol,
            "Ports": ports,
            "Peer": shown_peer,
        },
        what,
    )


def _statements(value: Any) -> list[Any]:
    """Policy statements, flattened from documents and inline policies; list entries as-is."""
    if value is None:
        return []
    if isinstance(value, str) and value.startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict) and "Statement" in value:
        statements = value["Statement"]
        return statements if isinstance(statements, list) else [statements]
    if isinstance(value, list):
        items: list[Any] = []
        for entry in value:
            document = entry.get("PolicyDocument") if isinstance(entry, dict) else None
            items.extend(_statements(document) if document else [entry])
        return items
    return [value]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principals(principal: Any) -> list[tuple[str, str]]:
    """(kind, who) for each principal: ("service", "ecs-tasks.amazonaws.com"), ("any", "*")."""
    if principal in ("*", {"AWS": "*"}):
        return [("anyone", "*")]
    if isinstance(principal, dict):
        return [
            (PRINCIPAL_KINDS.get(k) or str(k), render(who))
            for k, v in principal.items()
            for who in _listed(v)
        ]
    return [("principal", render(principal))]


def _statement(code: str, statement: Any) -> list[_Exposure]:
    if not isinstance(statement, dict):  # a managed policy ARN
        shown = render(statement)
        return [_Exposure("managed-policy", {"Arn": shown}, f"managed policy {shown}")]
    if statement.get("Effect", "Allow") != "Allow":
        return []
    actions = [render(a) for a in _listed(statement.get("Action", []))]
    resources = [render(r) for r in _listed(statement.get("Resource", []))]
    shown_actions = shorten(actions, 100) or "(no actions)"
    condition = _condition(statement.get("Condition"))
    negated = [k for k in ("NotAction", "NotResource", "NotPrincipal") if k in statement]
    if negated:  # "everything but": never matched by a declaration
        return [_Exposure("negated", {}, f"Allow with {', '.join(negated)}: {render(statement)}")]
    if code == IDENTITY_POLICY:
        on = shorten(resources, 100) or "(no resource)"
        return [
            _Exposure(
                "permission",
                {"Actions": actions, "Resources": resources},
                f"allows {shown_actions} on {on}{condition}",
            )
        ]
    exposures = []
    for kind, who in _principals(statement.get("Principal", "*")):
        if code == TRUST:
            what = f"may be assumed by {kind} {who} ({shown_actions}){condition}"
            exposures.append(_Exposure("trust", {"Principal": who}, what))
        else:
            on = f" on {shorten(resources, 100)}" if resources else ""
            what = f"allows {kind} {who}: {shown_actions}{on}{condition}"
            exposures.append(_Exposure("grant", {"Principal": who, "Actions": actions}, what))
    return exposures


def _condition(condition: Any) -> str:
    if not isinstance(condition, dict) or not condition:
        return ""
    parts = [
        f"{key} {operator} {render(value)}"
        for operator, tests in condition.items()
        if isinstance(tests, dict)
        for key, value in tests.items()
    ]
    return ", when " + " and ".join(parts) if parts else ""


def _public_access(before: dict[str, Any], after: dict[str, Any]) -> list[_Exposure]:
    old = before.get("PublicAccessBlockConfiguration") if before else None
    new = after.get("PublicAccessBlockConfiguration") or {}
    opened = [
        flag
        for flag in PUBLIC_ACCESS_FLAGS
        if new.get(flag) is not True and (old is None or (old or {}).get(flag) is True)
    ]
    if not opened or (before and old is None and not new):
        return []
    return [
        _Exposure(
            "public-access",
            {"Flags": opened},
            f"public access not blocked: {', '.join(opened)} off",
        )
    ]


# ---- declarations --------------------------------------------------------------------------


def declarations(template: dict[str, Any] | None, logical_id: str) -> list[dict[str, Any]]:
    """The resource's declarations in the template (accepted.METADATA_KEY)."""
    return entries((template or {}).get("Resources", {}).get(logical_id) or {})


def _declared(exposure: _Exposure, declared: list[dict[str, Any]]) -> str:
    """The reason of the first declaration that covers the exposure, or ""."""
    for declaration in declared:
        if declaration.get("Kind") == exposure.kind and _covers(declaration, exposure.fields):
            return str(declaration.get("Reason") or "declared without a reason")
    return ""


def _covers(declaration: dict[str, Any], fields: dict[str, Any]) -> bool:
    kind = declaration["Kind"]
    if kind in {INGRESS, EGRESS}:
        return (
            render(declaration.get("Protocol")) == fields["Protocol"]
            and render(declaration.get("Ports")) == fields["Ports"]
            and render(declaration.get("Peer")) == fields["Peer"]
        )
    if kind == "trust":
        return render(declaration.get("Principal")) == fields["Principal"]
    if kind == "public-access":
        return True
    if kind == "grant" and "Actions" not in declaration:
        return render(declaration.get("Principal")) == fields["Principal"]
    actions = {render(a) for a in declaration.get("Actions", [])}
    if not set(fields["Actions"]) <= actions:
        return False
    if kind == "grant":
        return render(declaration.get("Principal")) == fields["Principal"]
    if kind == "permission":
        resources = declaration.get("Resources")
        if resources is None:
            return "*" not in fields["Resources"]
        return set(fields["Resources"]) <= {render(r) for r in resources}
    return False
