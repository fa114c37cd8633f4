"""Change-set verbs: create, wait, describe, decide empty, execute, delete.

Each takes the CloudFormation client as its first argument (aws-cli's deployer does the same).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import ChangeSetFailed, TimedOut
from deployer.poll import Backoff, Deadline
from deployer.status import change_set_has_no_changes, error_code, is_throttling
from manifest import TEMPLATE_BUCKET

TEMPLATE_BODY_LIMIT = 51_200  # bytes; larger templates must come from S3 (TemplateURL)
PENDING = {"CREATE_PENDING", "CREATE_IN_PROGRESS"}


@dataclass(frozen=True)
class ChangeSet:
    arn: str
    stack_id: str
    name: str
    change_set_type: str  # CREATE or UPDATE
    description: dict[str, Any]  # first page of DescribeChangeSet (without property values)
    changes: list[dict[str, Any]]  # all pages, with property values where AWS gives them
    empty: bool
    parameter_types: dict[str, str] = field(default_factory=dict)  # the template's, by name
    values_missing: list[str] = field(default_factory=list)  # changes AWS gave no values for


REVERT_DRIFT = "REVERT_DRIFT"  # CreateChangeSet's DeploymentMode: a drift-aware change set


@dataclass(frozen=True)
class Content:
    """Every CreateChangeSet argument that changes what executes, and so the change set's
    digest: the template, the parameter values, the stack tags (they propagate to resources),
    the capabilities, the service role CloudFormation acts as, the deployment mode (a
    drift-aware change set also reverts drift). Not the stack's name (a change set lives in
    one stack) nor its type (CREATE or UPDATE follows from the stack)."""

    template_body: str
    parameters: list[dict[str, Any]]
    tags: dict[str, str]
    capabilities: tuple[str, ...] = ()
    role_arn: str | None = None
    deployment_mode: str | None = None

    def digest(self) -> str:
        """The SHA-256 of the content, in hex: the change set's Description carries it whole,
        its name the first 12 characters."""
        data = json.dumps(
            {
                "template": self.template_body,
                "parameters": self.parameters,
                "tags": self.tags,
                "capabilities": sorted(self.capabilities),
                "role_arn": self.role_arn,
                "deployment_mode": self.deployment_mode,
            },
            sort_keys=True,
        )
        return hashlib.sha256(data.encode()).hexdigest()


CONTENT_MARK = "content sha256:"  # in the Description, before the digest


def description(change_set_type: str, content_digest: str) -> str:
    return f"{change_set_type.lower()} by deploy.py, {CONTENT_MARK}{content_digest}"


def holds(summary: dict[str, Any], content_digest: str) -> bool:
    """The change set (described, or a ListChangeSets summary) was made from this content:
    its Description carries the same digest. One of the same name made by an older deploy.py,
    whose digest covered less, carries none and is not reused."""
    return f"{CONTENT_MARK}{content_digest}" in str(summary.get("Description") or "")


def change_set_name(revision: str, content_digest: str) -> str:
    """`deploy-<git rev>-<hash>`: the same name means the same content, so a plan is reusable
    (`holds` makes sure of it from the Description)."""
    rev = re.sub(r"[^A-Za-z0-9-]", "-", revision)[:40]
    return f"deploy-{rev}-{content_digest[:12]}"


def minified(body: str) -> str:
    """The template as compact JSON: what CloudFormation is sent. build/ keeps it indented for
    people and diffs; CloudFormation's limits count bytes (staging's service template is
    about 56 KB indented and 30 KB minified)."""
    return json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True)


def template_argument(
    aws: Any, stack_name: str, body: str, account: Callable[[], str], say: Any
) -> dict[str, str]:
    """TemplateBody when the minified template fits AWS's 51,200 bytes, else an upload to the
    account's template bucket and TemplateURL.

    TemplateBody whenever it fits: it needs no bucket, no S3 permission (the plan role of a
    pull request has none) and no object left behind, and CloudFormation reads the same
    template either way. The account (the bucket's name and its expected owner) and the S3
    client are only asked for a larger one. Every read and write of the bucket passes
    ExpectedBucketOwner: its name is predictable, and a bucket of that name in someone else's
    account must be refused (403), not written to or read from."""
    compact = minified(body)
    size = len(compact.encode())
    if size <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": compact}
    s3 = aws.client("s3")
    owner = account()
    bucket = TEMPLATE_BUCKET.format(account=owner, region=aws.region)
    key = f"{stack_name}/{hashlib.sha256(compact.encode()).hexdigest()}.json"
    _ensure_bucket(s3, bucket, aws.region, owner)
    say(
        f"  template is {size:,} bytes minified (> {TEMPLATE_BODY_LIMIT:,}): uploading to "
        f"s3://{bucket}/{key}"
    )
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=compact.encode(),
        ContentType="application/json",
        ExpectedBucketOwner=owner,
    )
    return {"TemplateURL": f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}"}


def _ensure_bucket(s3: Any, bucket: str, region: str, owner: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
        return
    except ClientError as error:
        if error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)  # CreateBucket takes no expected owner: a new bucket is ours
    s3.put_public_access_block(
        Bucket=bucket,
        ExpectedBucketOwner=owner,
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
    template: dict[str, Any],
    content: Content,
) -> tuple[str, str]:
    """Create the change set of `content` (`template`: its TemplateBody or TemplateURL);
    returns (change set ARN, stack ID). With a role ARN, CloudFormation acts as that service
    role (the ci stack's), not with the caller's credentials; with DeploymentMode REVERT_DRIFT
    the change set also puts drifted resources back to their template.

    A change set of the same name that is still available (left by `make plan`) is reused only
    if its Description carries the same content digest, so what was reviewed is what runs;
    any other is deleted and created anew.
    """
    from botocore.exceptions import ClientError

    content_digest = content.digest()
    request = {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": change_set_type,
        "Parameters": content.parameters,
        "Capabilities": list(content.capabilities),
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(content.tags.items())],
        "Description": description(change_set_type, content_digest),
        **template,
    }
    if content.role_arn is not None:
        request["RoleARN"] = content.role_arn
    if content.deployment_mode is not None:
        request["DeploymentMode"] = content.deployment_mode
    try:
        response = cf.create_change_set(**request)
    except ClientError as error:
        if error_code(error) != "AlreadyExistsException":
            raise
        existing = cf.describe_change_set(StackName=stack_name, ChangeSetName=name)
        if existing["ExecutionStatus"] == "AVAILABLE" and holds(existing, content_digest):
            return existing["ChangeSetId"], existing["StackId"]
        cf.delete_change_set(ChangeSetName=existing["ChangeSetId"])
        response = cf.create_change_set(**request)
    return response["Id"], response["StackId"]


def wait_for_change_set(
    cf: Any, arn: str, backoff: Backoff, deadline: Deadline | None = None
) -> dict[str, Any]:
    """Poll until the change set is created or failed; returns the first described page.

    Without property values: with IncludePropertyValues, AWS can leave out a FAILED change
    set's StatusReason (boto/boto3#4178), which tells "no changes" from a real failure.
    TimedOut when `deadline` passes first (the change set is left for a later run to reuse)."""
    from botocore.exceptions import ClientError

    throttled = 0
    for delay in backoff.delays():
        try:
            page = cf.describe_change_set(ChangeSetName=arn)
        except ClientError as error:  # a read-only poll: throttling past botocore's retries
            if not is_throttling(error) or (deadline is not None and deadline.passed()):
                raise
            throttled += 1
            backoff.sleep(backoff.throttled(throttled))
            continue
        throttled = 0
        if page["Status"] not in PENDING:
            return page
        if deadline is not None and deadline.passed():
            raise TimedOut(
                f"change set {page.get('ChangeSetName', arn)} is still {page['Status']} after "
                f"{deadline.describe()}: CloudFormation goes on computing it, and the next "
                "deploy of the same revision reuses it (nothing was executed)"
            )
        backoff.sleep(delay)
    raise AssertionError("unreachable")


def all_changes(
    cf: Any, arn: str, first_page: dict[str, Any], **values: bool
) -> list[dict[str, Any]]:
    """Every change, following NextToken (DescribeChangeSet pages at 1,000 changes... or fewer).
    `values`: IncludePropertyValues=True to read the pages with property values."""
    changes = list(first_page.get("Changes", []))
    token = first_page.get("NextToken")
    while token:
        page = cf.describe_change_set(ChangeSetName=arn, NextToken=token, **values)
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
    return changes


def with_property_values(
    cf: Any, arn: str, changes: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The changes with their property values, merged into the list read without them.

    With IncludePropertyValues, AWS can drop a whole resource change from its answer (a
    JSON-typed property it cannot validate) and only warn about it (aws/aws-cdk-cli#1780): the
    list read without values is the one that counts. A change missing from the answer with
    values is kept as it is; returns the merged changes and those changes' logical IDs."""
    from botocore.exceptions import ClientError

    try:
        first = cf.describe_change_set(ChangeSetName=arn, IncludePropertyValues=True)
        detailed = all_changes(cf, arn, first, IncludePropertyValues=True)
    except ClientError as error:  # a region or partition without the feature
        if error_code(error) != "ValidationError":
            raise
        detailed = []
    found = {_change_key(change): change for change in detailed}
    merged, missing = [], []
    for change in changes:
        with_values = found.get(_change_key(change))
        if with_values is None and change.get("Type") == "Resource":
            missing.append(change["ResourceChange"].get("LogicalResourceId", "?"))
        merged.append(with_values or change)
    return merged, missing


def _change_key(change: dict[str, Any]) -> tuple[str, str, str]:
    resource = change.get("ResourceChange", {})
    return (
        change.get("Type", ""),
        resource.get("LogicalResourceId", ""),
        resource.get("Action", ""),
    )


def is_empty(description: dict[str, Any]) -> bool:
    """No changes: AWS's "didn't contain changes" failure, and nothing else.

    A change set that completes with zero resource changes is executable and does change
    something (outputs, parameters, tags): AWS answers that way for an Outputs-only change, and
    a downstream stack may be waiting for the new output."""
    return description["Status"] == "FAILED" and change_set_has_no_changes(
        description.get("StatusReason")
    )


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
    types: dict[str, str] | None = None,
    deadline: Deadline | None = None,
) -> ChangeSet:
    """Wait for the change set and read it whole. A FAILED one (not the empty case) raises
    ChangeSetFailed, with what DescribeEvents says of failed validations; the caller discards
    it, as it deletes an empty one."""
    first = wait_for_change_set(cf, arn, backoff, deadline)
    changes = all_changes(cf, arn, first) if first["Status"] != "FAILED" else []
    changes, values_missing = with_property_values(cf, arn, changes) if changes else ([], [])
    empty = is_empty(first)
    if first["Status"] == "FAILED" and not empty:
        reason = first.get("StatusReason", "no reason given")
        raise ChangeSetFailed(
            f"change set {name} for {first.get('StackName')} failed: {reason}",
            validation_failures(cf, arn) if needs_describe_events(reason) else [],
        )
    return ChangeSet(
        arn, stack_id, name, change_set_type, first, changes, empty, types or {}, values_missing
    )


def needs_describe_events(reason: str) -> bool:
    """AWS's Early Validation failures name AWS::EarlyValidation::* checks and point to the
    DescribeEvents API for which resource and property failed."""
    return "AWS::EarlyValidation::" in reason or "DescribeEvents" in reason


def validation_failures(cf: Any, arn: str) -> list[str]:
    """One line per failed event of the change set's operation (DescribeEvents with
    FailedEvents), or one line saying why they could not be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    lines: list[str] = []
    request: dict[str, Any] = {"ChangeSetName": arn, "Filters": {"FailedEvents": True}}
    try:
        while True:
            page = cf.describe_events(**request)
            lines.extend(_failed_event_line(event) for event in page.get("OperationEvents", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    except (BotoCoreError, ClientError) as error:
        lines.append(f"(DescribeEvents could not be read for the details: {str(error).strip()})")
    return lines or ["(DescribeEvents listed no failed event for this change set)"]


def _failed_event_line(event: dict[str, Any]) -> str:
    where = " ".join(
        part for part in (event.get("LogicalResourceId"), event.get("ResourceType")) if part
    )
    check = event.get("ValidationName") or event.get("HookType") or event.get("EventType", "")
    status = event.get("ValidationStatus") or event.get("HookStatus") or ""
    why = (
        event.get("ValidationStatusReason")
        or event.get("HookStatusReason")
        or event.get("ResourceStatusReason")
        or "no reason given"
    )
    path = event.get("ValidationPath")
    return f"{where or 'stack'}: {check} {status}: {why}".replace("  ", " ") + (
        f" (at {path})" if path else ""
    )


def summaries(cf: Any, stack_id: str) -> Iterator[dict[str, Any]]:
    """The stack's change sets (ListChangeSets, NextToken by hand as in follow.py), only
    that stack's: moto's ListChangeSets may list other stacks' too."""
    request = {"StackName": stack_id}
    while True:
        page = cf.list_change_sets(**request)
        yield from (s for s in page["Summaries"] if s["StackId"] == stack_id)
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def delete_stale_plans(cf: Any, stack_id: str) -> list[str]:
    """After an execution, delete this tool's change sets still waiting on the stack (left by
    `make plan`): they describe changes against a state that no longer exists. AWS deletes
    them itself on execution; this makes sure of it. Returns the names deleted."""
    deleted: dict[str, str] = {}  # by ID: a change set listed twice is deleted once
    for summary in list(summaries(cf, stack_id)):
        if summary["ChangeSetId"] in deleted:
            continue
        if is_ours(summary) and summary["ExecutionStatus"] != "EXECUTE_COMPLETE":
            cf.delete_change_set(ChangeSetName=summary["ChangeSetId"])
            deleted[summary["ChangeSetId"]] = summary["ChangeSetName"]
    return list(deleted.values())


def deleted_text(names: list[str]) -> str:
    """`deleted 2 older plan change set(s): A, B (x2)`: each name once, with its count when
    several had it (names are content digests: a plan made again of the same content)."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    listed = ", ".join(f"{n} (x{c})" if c > 1 else n for n, c in counts.items())
    return f"deleted {len(names)} older plan change set(s): {listed}"


def is_ours(summary: dict[str, Any]) -> bool:
    return str(summary["ChangeSetName"]).startswith("deploy-")


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
