"""Which changes deserve a warning above the review table.

Risky: replacing or removing a resource that holds data or identity, and any IAM or
security-group change that widens access. The rules read the values AWS gives with
IncludePropertyValues (or the template diff, where it gives none).
"""

from __future__ import annotations

import json
from typing import Any

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
}

# Types that grant access: any addition or change may widen it.
GRANTS_ACCESS = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns"),
    "AWS::IAM::Policy": ("PolicyDocument", "Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument", "Roles", "Users", "Groups"),
    "AWS::IAM::RolePolicy": ("PolicyDocument",),
    "AWS::IAM::User": ("Policies", "ManagedPolicyArns", "Groups"),
    "AWS::IAM::Group": ("Policies", "ManagedPolicyArns"),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::Lambda::Permission": ("Principal", "Action", "SourceArn"),
}
SECURITY_GROUP_RULES = {
    "AWS::EC2::SecurityGroup": ("SecurityGroupIngress", "SecurityGroupEgress"),
    "AWS::EC2::SecurityGroupIngress": None,
    "AWS::EC2::SecurityGroupEgress": None,
}


def risks(
    change: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[str]:
    """Warnings for one ResourceChange; before/after are its Properties where known."""
    action = change.get("Action", "")
    logical = change.get("LogicalResourceId", "?")
    kind = change.get("ResourceType", "?")
    replacement = change.get("Replacement", "")
    found: list[str] = []
    if kind in HOLDS_DATA_OR_IDENTITY:
        what = HOLDS_DATA_OR_IDENTITY[kind]
        if action == "Remove":
            found.append(f"REMOVE {logical} ({kind}): {what}")
        elif action == "Modify" and replacement in {"True", "Conditional"}:
            how = "REPLACE" if replacement == "True" else "MAY REPLACE"
            found.append(f"{how} {logical} ({kind}): {what}")
    if action in {"Add", "Modify"} and kind in GRANTS_ACCESS:
        widened = _widened(GRANTS_ACCESS[kind], before, after, action)
        if widened:
            found.append(f"IAM {logical} ({kind}) widens access: {widened}")
    if action in {"Add", "Modify"} and kind in SECURITY_GROUP_RULES:
        opened = _opened(SECURITY_GROUP_RULES[kind], before, after, action)
        if opened:
            found.append(f"SECURITY GROUP {logical} ({kind}) widens access: {opened}")
    return found


def _widened(keys: tuple[str, ...], before: Any, after: Any, action: str) -> str:
    if after is None:
        return "its policy changed (values not shown)" if action == "Modify" else ""
    added: list[str] = []
    for key in keys:
        old = _items(key, before or {})
        added.extend(_describe(item) for item in _items(key, after) if item not in old)
    if added:
        return "adds " + "; ".join(added[:5]) + (" ..." if len(added) > 5 else "")
    return ""


def _opened(keys: tuple[str, ...] | None, before: Any, after: Any, action: str) -> str:
    if after is None:
        return "new rule" if action == "Add" else "its rules changed (values not shown)"
    if keys is None:  # a standalone rule resource: the rule is its properties
        return "" if before == after else "rule " + _rule(after)
    opened: list[str] = []
    for key in keys:
        old = (before or {}).get(key) or []
        opened.extend(_rule(rule) for rule in (after.get(key) or []) if rule not in old)
    return "adds " + "; ".join(opened) if opened else ""


def _items(key: str, properties: dict[str, Any]) -> list[Any]:
    """Policy statements (flattened from documents and inline policies) or list entries."""
    value = properties.get(key)
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
            items.extend(_items("PolicyDocument", entry) if document else [entry])
        return items
    return [value]


def _describe(item: Any) -> str:
    if isinstance(item, dict) and "Action" in item:
        effect = item.get("Effect", "Allow")
        what = item.get("Action")
        on = item.get("Resource", item.get("Principal", "*"))
        return f"{effect} {_short(what)} on {_short(on)}"
    return f"{_short(item)}"


def _rule(rule: Any) -> str:
    if not isinstance(rule, dict):
        return _short(rule)
    source = (
        rule.get("CidrIp")
        or rule.get("CidrIpv6")
        or rule.get("SourceSecurityGroupId")
        or rule.get("DestinationSecurityGroupId")
        or rule.get("SourcePrefixListId")
        or "?"
    )
    ports = f"{_short(rule.get('FromPort', 'all'))}-{_short(rule.get('ToPort', 'all'))}"
    source = _short(source)
    wide = " (the whole internet)" if source in {"0.0.0.0/0", "::/0"} else ""
    return f"{_short(rule.get('IpProtocol', '?'))} {ports} from/to {source}{wide}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
