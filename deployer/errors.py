"""Domain exceptions. Only `deploy.main()` turns them into exit codes."""

from __future__ import annotations

import manifest
from deployer import advice


class DeployError(Exception):
    """Anything that stops a deploy; str() is a message for a person."""


# build/<env>/manifest.json is missing, stale or malformed: raised by the manifest module,
# which does not depend on the deployer, so it is not a DeployError (deploy.main reports both).
ManifestError = manifest.ManifestError


class PreflightError(DeployError):
    """A check before any change set failed: nothing was changed."""


class ChangeSetFailed(DeployError):
    """CloudFormation could not create the change set (not the empty case)."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        self.details = details or []  # what DescribeEvents said about failed validations
        super().__init__("\n".join([message, *(f"  {line}" for line in self.details)]))


class TimedOut(DeployError):
    """A wait reached its deadline; nothing of ours was executed (see StoppedFollowing for
    a stack operation under way)."""


class Declined(DeployError):
    """The person (or the lack of a terminal) said no to executing."""


class Interrupted(DeployError):
    """Ctrl-C (or SIGTERM, SIGHUP) before anything was executed; what it left is cleaned up."""


class DeployFailed(DeployError):
    """The stack operation failed; `report` holds the lines that explain why."""

    def __init__(self, message: str, report: list[str] | None = None) -> None:
        super().__init__(message)
        self.report = report or []


class StoppedFollowing(DeployError):
    """We stopped following a stack operation (a deadline, credentials that expired): the
    operation goes on in CloudFormation, and the message says how to follow or cancel it."""

    def __init__(
        self, why: str, target: advice.Target, operation: str, more: list[str] | None = None
    ) -> None:
        self.why = why
        self.target = target
        self.operation = operation  # CREATE, UPDATE, DELETE or ROLLBACK (status.operation)
        self.more = more or []  # what else goes on without us (a paused service deployment)
        super().__init__(self.advice())

    def advice(self) -> str:
        return "\n".join(
            [
                f"{self.why}; CloudFormation carries on with the {self.operation.lower()}.",
                *advice.in_progress(self.target, self.operation),
                *self.more,
            ]
        )


class FollowInterrupted(StoppedFollowing):
    """Ctrl-C while following: the stack operation goes on without us."""

    def __init__(
        self, target: advice.Target, operation: str, more: list[str] | None = None
    ) -> None:
        super().__init__(f"Stopped following {target.stack_name}", target, operation, more)
