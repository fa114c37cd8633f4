"""`make status`: the environment's services on one screen, built once as data (`OUTPUT=json`
prints the same data).

Each stack's status and last update; then, for every service (`--service NAME`: that one),
the ECS deployment and its task counts; the image tag
deployed against the one this checkout's build/ would deploy; what a rollback would go back
to; the alarms' states and the paging subscription's; the URL and the dashboard. It only
reads: no lock, no change.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from deployer import canary, ecs_deployments, rollback, rollout, smoke, verify
from deployer.follow import describe_stack
from deployer.manifest import Image, Manifest, ServiceSpec
from deployer.params import Resolver
from deployer.postdeploy import upstream_topics
from deployer.status import error_line

DASHBOARD_OUTPUT = "DashboardUrl"  # the service stack's Output (templates/dashboard.py)
RECORDED_SHOWN = 5  # the latest deploys of the SSM record shown


def collect(
    aws: Any, manifest: Manifest, revision: str, only: list[str] | None = None
) -> dict[str, Any]:
    """Every service of the environment (`only`: these [services.NAME]), and every stack."""
    cf = aws.cloudformation
    chosen = [s for s in manifest.services if not only or s.name in only]
    keys = {s.stack for s in chosen}
    found: dict[str, Any] = {
        "environment": manifest.environment,
        "region": manifest.region,
        "revision": revision,
        "stacks": [],
        "services": [],
    }
    described = {}
    for spec in manifest.stacks:
        if only and spec.service is not None and spec.key not in keys:
            continue  # another service's stack
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
    resolver = Resolver(cf, manifest, {}, aws.client)
    for service in chosen:
        found["services"].append(
            one_service(aws, resolver, manifest, service, described[service.stack])
        )
    return found


def one_service(
    aws: Any,
    resolver: Resolver,
    manifest: Manifest,
    service: ServiceSpec,
    stack: dict[str, Any] | None,
) -> dict[str, Any]:
    """One service's stack: its rollout, images, rollback record, alarms, URL and dashboard;
    `deployed` False (and nothing else) when its stack is not."""
    spec = manifest.stack(service.stack)
    shown: dict[str, Any] = {"name": service.name, "stack_name": spec.stack_name}
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return {**shown, "deployed": False}
    physical = resolver.physical_ids(spec.key)
    outputs = {o.key: o.value for o in resolver.stack_outputs(spec, stack)}
    services = [physical[s] for s in rollout.service_logical_ids(spec.template) if s in physical]
    deployment = rollout.read(aws.client("ecs"), services[0]) if services else None
    under_way = None  # a progressive service's ECS service deployment, while one is
    if services and service.progressive is not None:
        from botocore.exceptions import ClientError

        try:
            found = ecs_deployments.newest(aws.client("ecs"), services[0])
        except ClientError as error:  # a role without the newer ECS reads: the rest still shows
            under_way = {"error": error_line(error)}
        else:
            under_way = canary.summary(manifest.environment, service.name, found) if found else None
    deployed = rollback.current_tag(stack)
    running = running_images(aws.client("ecs"), deployment.task_definition) if deployment else []
    entries = rollback.history(aws.client("ssm"), rollback.parameter_name(spec))
    return {
        **shown,
        "deployed": True,
        "rollout": deployment.to_dict() if deployment else None,
        "strategy": service.progressive.strategy if service.progressive else "rolling",
        "service_deployment": under_way,
        "image": {
            "deployed": deployed,
            "checkout": _tag(service.image),
            "running": running,
        },
        "rollback_to": rollback.previous(entries, deployed) if deployed else None,
        "recorded": [asdict(entry) for entry in entries[-RECORDED_SHOWN:]],
        "verify": verify.verify(
            aws.client, spec.template, physical, upstream_topics(manifest, resolver, spec)
        ).to_dict(),
        "url": service.url or outputs.get(smoke.URL_OUTPUT),
        "dashboard": outputs.get(DASHBOARD_OUTPUT),
    }


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
    if not found["services"]:
        lines.append("The environment has no service.")
    for service in found["services"]:
        lines.extend(service_lines(service))
    return "\n".join(lines)


def service_lines(service: dict[str, Any]) -> list[str]:
    """One service's facts, under its own header."""
    lines = [f"Service {service['name']} ({service['stack_name']}):"]
    if not service["deployed"]:
        return [*lines, "  not deployed"]
    deployment = service["rollout"]
    lines.append(
        f"  {rollout.Rollout(**deployment).line()}" if deployment else "  rollout: no ECS service"
    )
    lines.extend(deployment_lines(service))
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
        f"  rollback: make rollback SERVICE={service['name']} would go back to {back}"
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
    return lines


def deployment_lines(service: dict[str, Any]) -> list[str]:
    """A progressive service's deployment under way: its stage, and at a pause until when it
    waits and the commands that answer it. Nothing for a rolling service."""
    if service.get("strategy", "rolling") == "rolling":
        return []
    under_way = service.get("service_deployment")
    if under_way is None:
        return [f"  deployment ({service['strategy']}): none under way"]
    if "error" in under_way:
        return [f"  deployment ({service['strategy']}): not read: {under_way['error']}"]
    lines = [f"  {under_way['line']}"]
    paused = under_way["paused"]
    if paused:
        lines.append(
            f"  paused: waits for an answer until {paused['expires_at']}, then ECS will "
            f"{paused['timeout_action'] or 'ROLLBACK'} it"
        )
    return lines + [f"  {line}" for line in under_way["next"][1:]]


def running_images(ecs: Any, task_definition: str) -> list[str]:
    """The images of the task definition the ECS deployment runs (what serves, whatever the
    stack's parameter says)."""
    if not task_definition:
        return []
    found = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return [c["image"] for c in found.get("containerDefinitions", []) if c.get("image")]


def _tag(image: Image | None) -> str | None:
    return None if image is None else image.tag
