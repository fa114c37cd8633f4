"""`make status`: the environment's service on one screen, built once as data (`OUTPUT=json`
prints the same data).

Each stack's status and last update; the ECS deployment and its task counts; the image tag
deployed against the one this checkout's build/ would deploy; what a rollback would go back
to; the alarms' states and the paging subscription's; the URL and the dashboard. It only
reads: no lock, no change.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from deployer import rollback, rollout, smoke, verify
from deployer.follow import describe_stack
from deployer.manifest import Image, Manifest
from deployer.params import Resolver

DASHBOARD_OUTPUT = "DashboardUrl"  # the service stack's Output (templates/dashboard.py)
RECORDED_SHOWN = 5  # the latest deploys of the SSM record shown


def collect(aws: Any, manifest: Manifest, revision: str) -> dict[str, Any]:
    cf = aws.cloudformation
    found: dict[str, Any] = {
        "environment": manifest.environment,
        "region": manifest.region,
        "revision": revision,
        "stacks": [],
    }
    described = {}
    for spec in manifest.stacks:
        stack = describe_stack(cf, spec.stack_name)
        described[spec.key] = stack
        found["stacks"].append(
            {
                "key": spec.key,
                "stack_name": spec.stack_name,
                "status": stack["StackStatus"] if stack else "NOT DEPLOYED",
                "last_update": rollback.when_text(last_change(cf, stack)) if stack else None,
            }
        )
    spec = rollback.image_stack(manifest)
    stack = described[spec.key]
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        found["service"] = None
        return found
    resolver = Resolver(cf, manifest, {}, aws.client)
    physical = resolver.physical_ids(spec.key)
    outputs = {o.key: o.value for o in resolver.stack_outputs(spec, stack)}
    services = [physical[s] for s in rollout.service_logical_ids(spec.template) if s in physical]
    deployment = rollout.read(aws.client("ecs"), services[0]) if services else None
    deployed = rollback.current_tag(stack)
    running = running_images(aws.client("ecs"), deployment.task_definition) if deployment else []
    entries = rollback.history(aws.client("ssm"), rollback.parameter_name(spec))
    found["service"] = {
        "stack_name": spec.stack_name,
        "rollout": deployment.to_dict() if deployment else None,
        "image": {
            "deployed": deployed,
            "checkout": _tag(manifest.image_of(spec)),
            "running": running,
        },
        "rollback_to": rollback.previous(entries, deployed) if deployed else None,
        "recorded": [asdict(entry) for entry in entries[-RECORDED_SHOWN:]],
        "verify": verify.verify(aws.client, spec.template, physical).to_dict(),
        "url": outputs.get(smoke.URL_OUTPUT),
        "dashboard": outputs.get(DASHBOARD_OUTPUT),
    }
    return found


def last_change(cf: Any, stack: dict[str, Any]) -> Any:
    """When the stack last changed: LastUpdatedTime, which AWS sets on every update. A stack
    that is not as created (an UPDATE_* or ROLLBACK status) but has none (an emulator that does
    not set it) is dated by its newest stack-level event, not by its creation."""
    if stack.get("LastUpdatedTime"):
        return stack["LastUpdatedTime"]
    if stack["StackStatus"].startswith("CREATE_"):
        return stack["CreationTime"]
    events = cf.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    own = [e["Timestamp"] for e in events if e.get("LogicalResourceId") == stack["StackName"]]
    return max(own, default=stack["CreationTime"])


def render_text(found: dict[str, Any]) -> str:
    lines = [f"{found['environment']} in {found['region']}"]
    width = max(len(s["stack_name"]) for s in found["stacks"])
    for stack in found["stacks"]:
        since = f"  since {stack['last_update']}" if stack["last_update"] else ""
        lines.append(f"  {stack['stack_name'].ljust(width)}  {stack['status']}{since}")
    service = found["service"]
    if service is None:
        return "\n".join([*lines, "The service stack is not deployed."])
    lines.append(f"Service ({service['stack_name']}):")
    deployment = service["rollout"]
    lines.append(
        f"  {rollout.Rollout(**deployment).line()}" if deployment else "  rollout: no ECS service"
    )
    image = service["image"]
    same = (
        "the same as this checkout's"
        if image["deployed"] == image["checkout"]
        else f"this checkout's build/ would deploy {image['checkout']} (make deploy)"
    )
    lines.append(f"  image: {image['deployed']} deployed; {same}")
    if image["running"]:
        lines.append(f"  the ECS deployment runs {', '.join(image['running'])}")
    back = service["rollback_to"]
    lines.append(
        f"  rollback: make rollback would go back to {back}"
        if back
        else "  rollback: nothing recorded to roll back to"
    )
    for entry in reversed(service["recorded"]):
        lines.append(f"    recorded: {entry['tag']} ({entry['kind']}, {entry['when']})")
    checked = service["verify"]
    verification = verify.Verification(
        [verify.AlarmState(**a) for a in checked["alarms"]],
        [verify.Subscription(**s) for s in checked["subscriptions"]],
        checked["silent_topics"],
        checked.get("missing_known", False),
    )
    lines.extend(f"  {line}" for line in verification.lines())
    lines.append(f"  url:       {service['url'] or '(no Url output)'}")
    lines.append(f"  dashboard: {service['dashboard'] or '(no DashboardUrl output)'}")
    return "\n".join(lines)


def running_images(ecs: Any, task_definition: str) -> list[str]:
    """The images of the task definition the ECS deployment runs (what serves, whatever the
    stack's parameter says)."""
    if not task_definition:
        return []
    found = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return [c["image"] for c in found.get("containerDefinitions", []) if c.get("image")]


def _tag(image: Image | None) -> str | None:
    return None if image is None else image.tag
