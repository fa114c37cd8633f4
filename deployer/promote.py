"""`make promote SERVICE=x` and `make abort SERVICE=x`: a person answers a progressive
service's ECS service deployment (a deploy run with --no-verify, or one that stopped
following it).

promote: CONTINUE at the PAUSE hook (production traffic moves to the new revision).
abort: ROLLBACK at the PAUSE hook; a deployment under way but not paused is stopped with a
rollback (StopServiceDeployment). Either is asked first (--yes: not), and prints the AWS CLI
command that does the same. No deployment to act on is said, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deployer import ecs_deployments as deployments
from deployer import rollout
from deployer.errors import Declined, DeployError
from deployer.follow import describe_stack
from deployer.manifest import Manifest, ServiceSpec

PROMOTE, ABORT = "promote", "abort"


def find(
    aws: Any, manifest: Manifest, name: str
) -> tuple[ServiceSpec, deployments.Deployment | None]:
    """The service and its newest deployment under way (None: none is)."""
    service = next((s for s in manifest.services if s.name == name), None)
    if service is None:
        known = ", ".join(s.name for s in manifest.services) or "none"
        raise DeployError(f"no service {name} in {manifest.source}: its services are {known}")
    if service.progressive is None:
        raise DeployError(
            f"service {name} deploys with a rolling update ({manifest.source}, "
            f"[services.{name}.deployment] strategy): no deployment pauses, nothing to answer. "
            'Set strategy = "canary", "linear" or "blue_green" for a deployment that waits '
            "for its checks"
        )
    spec = manifest.stack(service.stack)
    stack = describe_stack(aws.cloudformation, spec.stack_name)
    logical = rollout.service_logical_ids(spec.template)
    arn = rollout.physical_id(aws.cloudformation, stack["StackId"], logical[0]) if stack else None
    if arn is None:
        raise DeployError(
            f"{spec.stack_name} runs no ECS service yet: make deploy ENV={manifest.environment} "
            "first"
        )
    return service, deployments.newest(aws.client("ecs"), arn)


def run(
    aws: Any,
    manifest: Manifest,
    name: str,
    verb: str,
    confirm: Callable[[str], bool],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Act on the service's deployment; the JSON document's `deployment` part."""
    service, found = find(aws, manifest, name)
    if found is None:
        say(f"  no deployment of {name} is under way: nothing to {verb}")
        return {"service": name, "action": None, "deployment": None}
    hook = found.paused()
    shown = {"service": name, "deployment": found.to_dict()}
    stage = found.stage or found.status
    if hook is None and verb == PROMOTE:
        say(
            f"  the {name} deployment {found.arn} is at {stage}, not waiting at its pause: "
            "nothing to promote (it goes on by itself; make abort rolls it back)"
        )
        return {**shown, "action": None}
    what = (
        "send production traffic to the new revision"
        if verb == PROMOTE
        else "roll it back to the revision it replaces"
    )
    if not confirm(f"{verb.capitalize()} the {name} deployment {found.arn} ({stage}): {what}?"):
        raise Declined(f"not done: the {name} deployment goes on as it was ({stage})")
    ecs = aws.client("ecs")
    if hook is not None:
        action = deployments.CONTINUE if verb == PROMOTE else deployments.ROLLBACK
        deployments.answer(ecs, found.arn, hook.hook_id, action)
        cli = deployments.cli_answer(found.arn, hook.hook_id, action)
    else:
        action = "STOP_ROLLBACK"
        deployments.stop(ecs, found.arn)
        cli = deployments.cli_stop(found.arn)
    say(f"  {verb}: {action} sent to the {name} deployment at {stage}")
    say(f"  (AWS CLI: {cli})")
    say(f"  to watch it to its end: make follow ENV={manifest.environment} STACK={service.stack}")
    return {**shown, "action": action, "aws_cli": cli}
