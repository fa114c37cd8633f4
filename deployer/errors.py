"""Domain exceptions. Only `deploy.main()` turns them into exit codes."""

from __future__ import annotations


class DeployError(Exception):
    """Anything that stops a deploy; str() is a message for a person."""


class ManifestError(DeployError):
    """build/<env>/manifest.json is missing, stale or malformed."""


class PreflightError(DeployError):
    """A check before any change set failed: nothing was changed."""


class ChangeSetFailed(DeployError):
    """CloudFormation could not create the change set (not the empty case)."""


class Declined(DeployError):
    """The person (or the lack of a terminal) said no to executing."""


class DeployFailed(DeployError):
    """The stack operation failed; `report` holds the lines that explain why."""

    def __init__(self, message: str, report: list[str] | None = None) -> None:
        super().__init__(message)
        self.report = report or []


class FollowInterrupted(DeployError):
    """Ctrl-C while following: the stack operation goes on without us."""

    def __init__(self, stack_name: str, operation: str) -> None:
        self.stack_name = stack_name
        self.operation = operation  # CREATE, UPDATE, DELETE or ROLLBACK (status.operation)
        super().__init__(self.advice())

    def advice(self) -> str:
        name = self.stack_name
        if self.operation == "CREATE":
            undo = f"aws cloudformation delete-stack --stack-name {name}"
        elif self.operation == "UPDATE":
            undo = f"aws cloudformation cancel-update-stack --stack-name {name}"
        else:
            undo = f"nothing to do: the {self.operation.lower()} cannot be cancelled, it just ends"
        return (
            f"Stopped following {name}; CloudFormation carries on with the operation.\n"
            f"  follow it:  aws cloudformation describe-stack-events --stack-name {name}\n"
            f"              (or run the deploy again: it waits for the stack, showing events)\n"
            f"  cancel it:  {undo}"
        )
