"""What to do next, as commands that work where the user is: our own verbs first (they run on
the emulator and on AWS alike, through the same endpoint and credentials as the deploy), and
the plain AWS CLI command beside them for real AWS."""

from __future__ import annotations

from dataclasses import dataclass

from deployer.ecs_deployments import CONTINUE, ROLLBACK, cli_answer, cli_stop


@dataclass(frozen=True)
class Target:
    """A stack as the user names it: the environment and the manifest's key, and its name."""

    env: str
    key: str
    stack_name: str

    def make(self, verb: str, extra: str = "") -> str:
        return f"make {verb} ENV={self.env} STACK={self.key}{extra}"


def _line(label: str, ours: str, aws: str) -> str:
    return f"  {label:<11} {ours}\n  {'':<11} (AWS CLI: {aws})"


def follow(target: Target) -> str:
    return _line(
        "follow it:",
        target.make("follow"),
        f"aws cloudformation describe-stack-events --stack-name {target.stack_name}",
    )


def cancel(target: Target, operation: str) -> str:
    """How to stop `operation` (status.operation's CREATE, UPDATE, DELETE, ROLLBACK...)."""
    name = target.stack_name
    if operation == "UPDATE":
        aws = f"aws cloudformation cancel-update-stack --stack-name {name}"
        return _line("cancel it:", target.make("cancel"), aws)
    if operation == "CREATE":  # a create cannot be cancelled: deleting the stack stops it
        aws = f"aws cloudformation delete-stack --stack-name {name}"
        return _line("cancel it:", target.make("cancel") + " (deletes the new stack)", aws)
    never = f"nothing to do: the {operation.lower()} cannot be cancelled, it just ends"
    return f"  {'cancel it:':<11} {never}"


def continue_rollback(target: Target) -> str:
    aws = (
        f"aws cloudformation continue-update-rollback --stack-name {target.stack_name} "
        "[--resources-to-skip LogicalId ...]"
    )
    return _line("then:", target.make("continue-rollback", ' [SKIP="LogicalId ..."]'), aws)


def delete_retaining(target: Target, resources: list[str]) -> str:
    """A stack whose delete failed: delete it again, keeping the resources that would not go."""
    keep = " ".join(resources) or "LogicalId ..."
    aws = (
        f"aws cloudformation delete-stack --stack-name {target.stack_name} "
        f"--retain-resources {keep}"
    )
    return _line("or keep them:", "delete the stack keeping them, then deploy again", aws)


def in_progress(target: Target, operation: str) -> list[str]:
    """The lines for an operation that goes on without us."""
    return [
        follow(target),
        "  {:<11} or run the deploy again: it waits for the stack, showing its events".format(""),
        cancel(target, operation),
    ]


def promote(env: str, service: str, arn: str, hook_id: str) -> str:
    """A service deployment waiting at its PAUSE hook: send production traffic to it."""
    ours = f"make promote ENV={env} SERVICE={service}"
    return _line("promote:", ours, cli_answer(arn, hook_id, CONTINUE))


def abort(env: str, service: str, arn: str, hook_id: str | None) -> str:
    """Roll a service deployment back: the answer ROLLBACK at its pause, else a stop."""
    aws = cli_answer(arn, hook_id, ROLLBACK) if hook_id else cli_stop(arn)
    return _line("abort:", f"make abort ENV={env} SERVICE={service}", aws)
