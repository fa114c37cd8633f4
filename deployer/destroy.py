"""make destroy: delete an environment's stacks (or one service's), after their review.

The stacks are those of the manifest that exist, and those tagged with the environment that
the manifest no longer names (orphans: deployer/orphans.py); with services chosen, only theirs.
They are deleted one at a time in reverse dependency order (a service's stacks before the
shared ones they read), each followed to its end; the first that fails stops the rest.

The review says what each delete removes and what it leaves: resources under a Retain
deletion policy stay (buckets among them, with what keeps their objects: S3 Object Lock's
retention, which nobody can shorten, and how to empty them once it ends). Nothing is forced:
no bucket is emptied, no termination protection lifted (the review says how, and stops).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer import orphans
from deployer.errors import Declined, DeployError, DeployFailed, PreflightError
from deployer.follow import describe_stack, failure_report
from deployer.manifest import Manifest, StackSpec
from deployer.run import StackResult

DELETED = "deleted"
KEPT_BY = {"Retain", "RetainExceptOnCreate", "Snapshot"}  # what a delete leaves behind


@dataclass(frozen=True)
class Doomed:
    """A stack to delete: its spec (one made up for an orphan: no template), as described."""

    spec: StackSpec
    stack: dict[str, Any]


def chosen(cf: Any, manifest: Manifest, services: list[str] | None) -> list[Doomed]:
    """What exists of the environment (or of `services`), in the order it is deleted."""
    tagged = orphans.tagged(cf, manifest)
    known = {s.service for s in manifest.stacks if s.service} | {
        t.service for t in tagged if t.service
    }
    unknown = sorted(set(services or ()) - known)
    if unknown:
        raise DeployError(
            f"no service {', '.join(unknown)} in {manifest.environment}: neither in "
            f"{manifest.source} nor tagged on a stack; its services are "
            f"{', '.join(sorted(known)) or 'none'}"
        )

    def wanted(service: str | None) -> bool:
        return not services or service in services

    names = {spec.stack_name for spec in manifest.stacks}
    found = [  # orphans first: they read the shared stacks, nothing reads them
        Doomed(_made_up(t.stack_name, t.service, manifest), t.stack)
        for t in tagged
        if t.stack_name not in names and wanted(t.service)
    ]
    for spec in reversed(manifest.stacks):  # the manifest lists a stack after its upstream
        if wanted(spec.service):
            stack = describe_stack(cf, spec.stack_name)
            if stack is not None and stack["StackStatus"] != "DELETE_COMPLETE":
                found.append(Doomed(spec, stack))
    return found


def _made_up(name: str, service: str | None, manifest: Manifest) -> StackSpec:
    starts = sorted(orphans.prefixes(manifest), key=len, reverse=True)
    key = next((name[len(p) :] for p in starts if name.startswith(p)), name)
    return StackSpec(key, name, Path(os.devnull), service=service)


def review(aws: Any, doomed: list[Doomed], say: Callable[[str], None]) -> list[str]:
    """Say what each delete removes and leaves; return what stops the destroy (termination
    protection), each with how to lift it."""
    cf = aws.cloudformation
    blockers = []
    for item in doomed:
        stack, name = item.stack, item.spec.stack_name
        say(f"== {name} ({stack['StackStatus']}): to be deleted")
        if stack.get("EnableTerminationProtection"):
            blockers.append(
                f"{name} has termination protection on; it is not lifted here. If this stack "
                "is to go, lift it knowingly, then destroy again:\n"
                "  aws cloudformation update-termination-protection "
                f"--no-enable-termination-protection --stack-name {name}"
            )
        template = _template(cf, stack["StackId"])
        resources = cf.describe_stack_resources(StackName=stack["StackId"])["StackResources"]
        for resource in resources:
            logical, kind = resource["LogicalResourceId"], resource["ResourceType"]
            physical = resource.get("PhysicalResourceId", "")
            policy = template.get("Resources", {}).get(logical, {}).get("DeletionPolicy")
            if policy in KEPT_BY:
                say(f"  keeps   {kind} {logical} {physical} (DeletionPolicy {policy})")
                if kind == "AWS::S3::Bucket" and physical:
                    for line in bucket_left(aws.client("s3"), physical):
                        say(f"          {line}")
            else:
                say(f"  deletes {kind} {logical} {physical}")
                if kind == "AWS::S3::Bucket" and physical and _holds_objects(aws, physical):
                    say(
                        f"          it holds objects: CloudFormation deletes only empty "
                        f"buckets, so this delete fails on it unless it is emptied first "
                        f"(aws s3 rm s3://{physical} --recursive, and its object versions)"
                    )
    return blockers


def bucket_left(s3: Any, bucket: str) -> list[str]:
    """Why a kept bucket keeps its objects, and how to remove it once it may go."""
    from botocore.exceptions import ClientError

    lines = ["the bucket and its objects stay after the stack is deleted."]
    try:
        lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError:  # no Object Lock on it (or not ours to read): nothing holds the objects
        lock = {}
    retention = lock.get("Rule", {}).get("DefaultRetention", {})
    if lock.get("ObjectLockEnabled") == "Enabled":
        period = (
            f"{retention['Days']} days"
            if "Days" in retention
            else f"{retention.get('Years', '?')} years"
        )
        lines.append(
            f"S3 Object Lock ({retention.get('Mode', 'no default mode')}, {period} from each "
            "object's write) keeps every object version until its retention ends: nobody, "
            "root included, can delete one before (COMPLIANCE cannot be shortened)."
        )
    lines.append(
        f"to remove it once its objects may go: delete every object version "
        f"(aws s3api list-object-versions --bucket {bucket}, then delete-objects), "
        f"then aws s3api delete-bucket --bucket {bucket}"
    )
    return lines


def _holds_objects(aws: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        page = aws.client("s3").list_object_versions(Bucket=bucket, MaxKeys=1)
    except ClientError:
        return False
    return bool(page.get("Versions") or page.get("DeleteMarkers"))


def _template(cf: Any, stack_id: str) -> dict[str, Any]:
    import json

    body = cf.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else dict(body)


def run(
    deployer: Any,
    services: list[str] | None,
    typed: Callable[[str], str],
) -> None:
    """Review, ask for the environment's name (unless --yes), delete in order."""
    manifest, say = deployer.manifest, deployer.say
    doomed = chosen(deployer.cf, manifest, services)
    what = f"services {', '.join(services)} of " if services else ""
    if not doomed:
        say(f"nothing to delete: no stack of {what}{manifest.environment} exists")
        return
    blockers = review(deployer.aws, doomed, say)
    if blockers:
        raise PreflightError("nothing deleted:\n" + "\n".join(blockers))
    names = ", ".join(d.spec.stack_name for d in doomed)
    if not deployer.options.yes:
        answer = typed(
            f"Delete {len(doomed)} stack(s) of {what}{manifest.environment} ({names}), in this "
            f"order? Type the environment's name ({manifest.environment}) to delete them:"
        )
        if answer != manifest.environment:
            raise Declined(f"typed {answer!r}, not {manifest.environment!r}: nothing deleted")
    for item in doomed:
        deployer.results.append(delete(deployer, item))


def delete(deployer: Any, item: Doomed) -> StackResult:
    spec, stack = item.spec, item.stack
    say = deployer.say
    say(f"== deleting {spec.stack_name}")
    role = {"RoleARN": stack["RoleARN"]} if stack.get("RoleARN") else {}
    final, follower = deployer.operate(
        spec,
        stack,
        "DELETE",
        lambda: deployer.cf.delete_stack(StackName=stack["StackId"], **role),
    )
    if final["StackStatus"] != "DELETE_COMPLETE":
        report = failure_report(follower.events, final, follower.diagnostics)
        deployer.results.append(
            StackResult(spec.key, spec.stack_name, "failed", note=final["StackStatus"])
        )
        raise DeployFailed(
            f"{spec.stack_name}: the delete ended {final['StackStatus']}; the stacks after it "
            "were not deleted",
            report,
        )
    say(f"  {spec.stack_name}: DELETE_COMPLETE")
    return StackResult(spec.key, spec.stack_name, DELETED)
