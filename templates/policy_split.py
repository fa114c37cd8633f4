"""IAM policy documents cut to IAM's size limits, deterministically.

A customer managed policy holds at most 6,144 characters (whitespace not counted) and a role
has at most 10 managed policies attached (the default quota; 20 on request). An inline policy
would be limited to 10,240 for all of a role's inline policies together, which the
CloudFormation role's generated permissions come near: they go in managed policies.

The size is measured on the document as IAM stores it, after CloudFormation resolves the
intrinsic functions; since that happens at deploy time, the measure here is an upper bound:
every pseudo parameter is counted at its longest (a GovCloud partition, the longest region
name) and any other reference as a 160-character ARN.
"""

from __future__ import annotations

import json
import re
from typing import Any

from awacs.aws import PolicyDocument, Statement
from troposphere import encode_to_dict

MANAGED_POLICY_LIMIT = 6144
MANAGED_POLICIES_PER_ROLE = 10
LONGEST = {
    "AWS::Partition": "aws-us-gov",
    "AWS::Region": "ap-southeast-5x",  # longer than any region's name today
    "AWS::AccountId": "123456789012",
}
ANY_ARN = "x" * 160


class PolicyTooLarge(ValueError):
    """The permissions do not fit in the managed policies a role may have."""


def _resolved(value: Any) -> Any:
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: LONGEST.get(m[1], ANY_ARN), value["Fn::Sub"])
    if set(value) == {"Ref"}:
        return LONGEST.get(value["Ref"], ANY_ARN)
    if set(value) & {"Fn::GetAtt", "Fn::Join", "Fn::ImportValue"}:
        return ANY_ARN
    return {k: _resolved(v) for k, v in value.items()}


def size(document: dict[str, Any]) -> int:
    """The characters IAM counts: the JSON without whitespace, intrinsics at their longest."""
    return len(json.dumps(_resolved(document), separators=(",", ":")))


def _document(statements: list[Statement]) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _halves(statement: Statement) -> list[Statement]:
    """A statement too large alone, cut in two by its actions (same resources and conditions)."""
    actions = statement.Action
    if len(actions) < 2:
        raise PolicyTooLarge(f"statement {statement.Sid} alone exceeds the managed policy limit")
    middle = len(actions) // 2
    halves = []
    for index, part in enumerate((actions[:middle], actions[middle:]), start=1):
        fields = encode_to_dict(statement)
        halves.append(
            Statement(
                Sid=f"{statement.Sid}{index}",
                Effect=statement.Effect,
                Action=part,
                Resource=statement.Resource,
                **({"Condition": statement.Condition} if "Condition" in fields else {}),
            )
        )
    return halves


def split(statements: list[Statement], limit: int = MANAGED_POLICY_LIMIT) -> list[PolicyDocument]:
    """The statements in order, packed first-fit into as few documents as fit under `limit`;
    a statement too large for one document is cut by its actions first."""
    todo = list(statements)
    documents: list[list[Statement]] = []
    while todo:
        statement = todo.pop(0)
        if size(encode_to_dict(_document([statement]))) > limit:
            todo[:0] = _halves(statement)
            continue
        for held in documents:
            if size(encode_to_dict(_document([*held, statement]))) <= limit:
                held.append(statement)
                break
        else:
            documents.append([statement])
    if len(documents) > MANAGED_POLICIES_PER_ROLE:
        raise PolicyTooLarge(
            f"{len(documents)} managed policies needed, over IAM's default quota of "
            f"{MANAGED_POLICIES_PER_ROLE} per role"
        )
    return [_document(held) for held in documents]
