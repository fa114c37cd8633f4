"""Change-set verbs: create, wait, describe, decide empty, execute, delete.

Each takes the CloudFormation client as its first argument (aws-cli's deployer does the same).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import ChangeSetFailed
from deployer.poll import Backoff
from deployer.status import change_set_has_no_changes, error_code

TEMPLATE_BODY_LIMIT = 51_200  # bytes; larger templates must come from S3 (TemplateURL)
PENDING = {"CREATE_PENDING", "CREATE_IN_PROGRESS"}


@dataclass(frozen=True)
class ChangeSet:
    arn: str
    stack_id: str
    name: str
    change_set_type: str  # CREATE or UPDATE
    description: dict[str, Any]  # first page of DescribeChangeSet (with property values)
    changes: list[dict[str, Any]]  # all pages
    empty: bool
    parameter_types: dict[str, str] = field(default_factory=dict)  # the template's, by name


def digest(template_body: str, parameters: list[dict[str, str]], extra: dict[str, Any]) -> str:
    """A short hash of everything that decides what the change set does."""
    data = json.dumps(
        {"template": template_body, "parameters": parameters, **extra}, sort_keys=True
    )
    return hashlib.sha256(data.encode()).hexdigest()[:12]


def change_set_name(revision: str, content_digest: str) -> str:
    """`deploy-<git rev>-<hash>`: the same name means the same content, so a plan is reusable."""
    rev = re.sub(r"[^A-Za-z0-9-]", "-", revision)[:40]
    return f"deploy-{rev}-{content_digest}"


def template_argument(
    aws: Any, stack_name: str, body: str, account: Callable[[], str], say: Any
) -> dict[str, str]:
    """TemplateBody when it fits, else upload to an S3 bucket and pass TemplateURL.

    The account (for the bucket's name) and the S3 client are only asked for then."""
    size = len(body.encode())
    if size <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    s3 = aws.client("s3")
    bucket = f"cfn-templates-{account()}-{aws.region}"
    key = f"{stack_name}/{hashlib.sha256(body.encode()).hexdigest()}.json"
    _ensure_bucket(s3, bucket, aws.region)
    say(
        f"  template is {size:,} bytes (> {TEMPLATE_BODY_LIMIT:,}): uploading to s3://{bucket}/{key}"
    )
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return {"TemplateURL": f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}"}


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def create_change_set(
    cf: Any,
    *,
    stack_name: str,
    name: str,
    change_set_type: str,
    template: dict[str, str],
    parameters: list[dict[str, str]],
    capabilities: list[str],
    tags: dict[str, str],
) -> tuple[str, str]:
    """Create the change set; returns (change set ARN, stack ID).

    A change set of the same name holds the same content (the name carries its hash): if one is
    still available (left by `make plan`), it is reused, so what was reviewed is what runs.
    """
    from botocore.exceptions import ClientError

    request = {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": change_set_type,
        "Parameters": parameters,
        "Capabilities": capabilities,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        "Description": f"{change_set_type.lower()} by deploy.py",
        **template,
    }
    try:
        response = cf.create_change_set(**request)
    except ClientError as error:
        if error_code(error) != "AlreadyExistsException":
            raise
        existing = cf.describe_change_set(StackName=stack_name, ChangeSetName=name)
        if existing["ExecutionStatus"] == "AVAILABLE":
            return existing["ChangeSetId"], existing["StackId"]
        cf.delete_change_set(ChangeSetName=existing["ChangeSetId"])
        response = cf.create_change_set(**request)
    return response["Id"], response["StackId"]


def wait_for_change_set(cf: Any, arn: str, backoff: Backoff) -> dict[str, Any]:
    """Poll until the change set is created or failed; returns the first described page."""
    for delay in backoff.delays():
        page = cf.describe_change_set(ChangeSetName=arn, IncludePropertyValues=True)
        if page["Status"] not in PENDING:
            return page
        backoff.sleep(delay)
    raise AssertionError("unreachable")


def all_changes(cf: Any, arn: str, first_page: dict[str, Any]) -> list[dict[str, Any]]:
    """Every change, following NextToken (DescribeChangeSet pages at 1,000 changes... or fewer)."""
    changes = list(first_page.get("Changes", []))
    token = first_page.get("NextToken")
    while token:
        page = cf.describe_change_set(
            ChangeSetName=arn, IncludePropertyValues=True, NextToken=token
        )
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
    return changes


def is_empty(
    description: dict[str, Any],
    changes: list[dict[str, Any]],
    stack: dict[str, Any] | None,
    types: dict[str, str] | None = None,
) -> bool:
    """No changes: AWS's "didn't contain changes" failure, or a complete change set with zero
    changes whose parameters equal the stack's (a parameter-only change still counts as one).
    `stack` is the stack the change set updates: None for a CREATE change set."""
    if description["Status"] == "FAILED":
        return change_set_has_no_changes(description.get("StatusReason"))
    if changes or stack is None:
        return False
    old, new = parameter_values(stack, types), parameter_values(description, types)
    return all(old.get(key) == value for key, value in new.items() if key in old)


def parameter_types(template: dict[str, Any]) -> dict[str, str]:
    parameters = template.get("Parameters", {})
    return {name: spec.get("Type", "String") for name, spec in parameters.items()}


def parameter_values(
    described: dict[str, Any], types: dict[str, str] | None = None
) -> dict[str, str]:
    """Parameter values as comparable strings, by the template's parameter type.

    SSM-typed parameters compare by ResolvedValue (ParameterValue is the SSM name) and are
    left out where none is given; list types compare item by item, whatever the rendering
    ("a,b" from AWS, "['a', 'b']" from moto's DescribeStacks)."""
    values = {}
    for parameter in described.get("Parameters", []):
        key, kind = parameter["ParameterKey"], (types or {}).get(parameter["ParameterKey"], "")
        if kind.startswith("AWS::SSM::Parameter::Value"):
            if "ResolvedValue" in parameter:
                values[key] = parameter["ResolvedValue"]
        elif kind.startswith("List<") or kind == "CommaDelimitedList":
            values[key] = ",".join(
                re.findall(r"[^\s,\[\]'\"]+", parameter.get("ParameterValue", ""))
            )
        else:
            values[key] = parameter.get("ParameterValue", "")
    return values


def settle(
    cf: Any,
    arn: str,
    stack_id: str,
    name: str,
    change_set_type: str,
    backoff: Backoff,
    stack: dict[str, Any] | None,
    types: dict[str, str] | None = None,
) -> ChangeSet:
    """Wait for the change set and read it whole; `stack` is the one it updates (None for a
    CREATE). A FAILED one (not the empty case) raises ChangeSetFailed; the caller discards it,
    as it deletes an empty one."""
    first = wait_for_change_set(cf, arn, backoff)
    changes = all_changes(cf, arn, first) if first["Status"] != "FAILED" else []
    empty = is_empty(first, changes, stack, types)
    if first["Status"] == "FAILED" and not empty:
        raise ChangeSetFailed(
            f"change set {name} for {first.get('StackName')} failed: "
            f"{first.get('StatusReason', 'no reason given')}"
        )
    return ChangeSet(arn, stack_id, name, change_set_type, first, changes, empty, types or {})


def delete_stale_plans(cf: Any, stack_id: str) -> list[str]:
    """After an execution, delete this tool's change sets still waiting on the stack (left by
    `make plan`): they describe changes against a state that no longer exists. AWS deletes
    them itself on execution; this makes sure of it. Returns the names deleted."""
    deleted = []
    request = {"StackName": stack_id}
    while True:  # NextToken by hand, as in follow.py: no paginator models to load
        page = cf.list_change_sets(**request)
        for summary in page["Summaries"]:
            if (
                summary["StackId"] == stack_id  # ListChangeSets may list other stacks' (moto)
                and summary["ChangeSetName"].startswith("deploy-")
                and summary["ExecutionStatus"] != "EXECUTE_COMPLETE"
            ):
                cf.delete_change_set(ChangeSetName=summary["ChangeSetId"])
                deleted.append(summary["ChangeSetName"])
        if not page.get("NextToken"):
            return deleted
        request["NextToken"] = page["NextToken"]


def delete_change_set(cf: Any, arn: str) -> None:
    cf.delete_change_set(ChangeSetName=arn)


def discard(cf: Any, arn: str, stack_id: str, new_stack: bool) -> None:
    """Delete a change set that will not run and, when its CREATE made the stack (an empty
    REVIEW_IN_PROGRESS one), that stack too."""
    delete_change_set(cf, arn)
    if new_stack:
        cf.delete_stack(StackName=stack_id)


def execute_change_set(cf: Any, arn: str) -> None:
    """Execute by ARN, never by a name that might now mean another change set."""
    cf.execute_change_set(ChangeSetName=arn)
