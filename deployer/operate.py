"""Verbs on a stack operation already under way, or one that stopped halfway: follow it,
cancel it, continue a failed rollback. They reach the stack as the deploy does (same session,
same endpoint), so the advice that names them works on the emulator and on AWS alike.

Each returns the stack's final description; a failure raises DeployFailed with its report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deployer import advice, states
from deployer.errors import Declined, DeployError, DeployFailed
from deployer.follow import Follower, describe_stack, failure_report
from deployer.manifest import StackSpec
from deployer.run import Deployer
from deployer.status import is_failure, is_in_progress, operation


def _stack(deployer: Deployer, spec: StackSpec) -> dict[str, Any]:
    stack = describe_stack(deployer.cf, spec.stack_name)
    if stack is None:
        raise DeployError(f"stack {spec.stack_name} does not exist: nothing to do")
    return stack


def follow(deployer: Deployer, spec: StackSpec) -> dict[str, Any]:
    """Re-attach to the stack's operation and follow it to its end; a settled stack is
    reported as it is."""
    stack = _stack(deployer, spec)
    status = stack["StackStatus"]
    if is_in_progress(status):
        deployer.say(f"  {spec.stack_name} is {status}: following it (Ctrl-C stops following)")
        stack = deployer.follow_running(spec, stack)
    else:
        deployer.say(f"  {spec.stack_name} is {status}: no operation in progress")
    return _verdict(deployer, spec, stack, None)


def cancel(deployer: Deployer, spec: StackSpec, confirm: Callable[[str], bool]) -> dict[str, Any]:
    """An update is cancelled (CloudFormation rolls it back); a create can only be stopped by
    deleting the new stack, which is asked first."""
    stack = _stack(deployer, spec)
    status = stack["StackStatus"]
    if status == "UPDATE_IN_PROGRESS":
        deployer.say(f"  cancelling the update of {spec.stack_name}: following its rollback")
        final, follower = deployer.operate(
            spec,
            stack,
            "ROLLBACK",
            lambda: deployer.cf.cancel_update_stack(StackName=stack["StackId"]),
        )
        return _verdict(deployer, spec, final, follower, cancelled=True)
    if status == "CREATE_IN_PROGRESS":
        if not confirm(f"Delete stack {spec.stack_name} to stop its create?"):
            raise Declined(f"not cancelled: {spec.stack_name} goes on with its create")
        deployer.say(f"  deleting {spec.stack_name} to stop its create")
        final, follower = deployer.operate(
            spec, stack, "DELETE", lambda: deployer.cf.delete_stack(StackName=stack["StackId"])
        )
        return _verdict(deployer, spec, final, follower, cancelled=True)
    why = (
        f"the {operation(status).lower()} cannot be cancelled, it just ends"
        if is_in_progress(status)
        else "no operation is in progress"
    )
    deployer.say(f"  {spec.stack_name} is {status}: nothing to cancel ({why})")
    return stack


def continue_rollback(deployer: Deployer, spec: StackSpec, skip: list[str]) -> dict[str, Any]:
    """ContinueUpdateRollback on an UPDATE_ROLLBACK_FAILED stack, skipping `skip` (logical
    IDs of resources that cannot roll back: CloudFormation marks them rolled back as they are)."""
    stack = _stack(deployer, spec)
    if not states.rollback_stuck(stack):
        deployer.say(f"  {spec.stack_name} is {stack['StackStatus']}: no rollback to continue")
        return stack
    request: dict[str, Any] = {"StackName": stack["StackId"]}
    if skip:
        request["ResourcesToSkip"] = skip
    skipped = f", skipping {', '.join(skip)}" if skip else ""
    deployer.say(f"  continuing the rollback of {spec.stack_name}{skipped}")
    final, follower = deployer.operate(
        spec, stack, "ROLLBACK", lambda: deployer.cf.continue_update_rollback(**request)
    )
    return _verdict(deployer, spec, final, follower, cancelled=True)


def _verdict(
    deployer: Deployer,
    spec: StackSpec,
    stack: dict[str, Any],
    follower: Follower | None,
    cancelled: bool = False,
) -> dict[str, Any]:
    """A rolled-back update is what cancel and continue-rollback ask for; any other failed
    state raises DeployFailed with its report and next step."""
    status = stack["StackStatus"]
    if status == "UPDATE_ROLLBACK_COMPLETE" and cancelled:
        deployer.say(f"  {spec.stack_name}: {status} (back to its last good state)")
        return stack
    if status == "DELETE_COMPLETE" or not is_failure(status):
        deployer.say(f"  {spec.stack_name}: {status}")
        return stack
    report = (
        failure_report(follower.events, stack, follower.diagnostics)
        if follower
        else [f"Stack {spec.stack_name} is {status}: {stack.get('StackStatusReason', '')}"]
    )
    if states.rollback_stuck(stack):
        report.append(advice.continue_rollback(deployer.target(spec)))
    elif states.must_delete(deployer.cf, stack):
        report.append("  the next deploy asks to delete it, then creates it again")
    raise DeployFailed(f"{spec.stack_name}: {status}", report)
