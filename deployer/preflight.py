"""Checks before any change set: who we are, what state the stack is in, whether the image
to run exists. Each raises PreflightError with what to do, or returns what it found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.errors import PreflightError
from deployer.status import FAILED_CREATE, error_code


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


def identity(sts: Any, region: str) -> Identity:
    """Credentials and region resolve, and AWS accepts them (STS GetCallerIdentity)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise PreflightError(
            f"AWS credentials for region {region} did not work: {error}. "
            "Set AWS_PROFILE (or the AWS_* variables) and try again."
        ) from None
    return Identity(found["Account"], found["Arn"])


def needs_recreation(cf: Any, stack: dict[str, Any] | None) -> str | None:
    """Why the stack must be deleted before it can be created again, or None.

    ROLLBACK_COMPLETE: a create failed and rolled back; nothing can update it.
    REVIEW_IN_PROGRESS after an execution was attempted: a create that never completed
    (a REVIEW_IN_PROGRESS stack that only awaits its first change set is fine).
    """
    if stack is None:
        return None
    status = stack["StackStatus"]
    if status == FAILED_CREATE:
        return f"is {status}: its first create failed and was rolled back"
    if status != "REVIEW_IN_PROGRESS":
        return None
    events = cf.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    if any(e["ResourceStatus"] != "REVIEW_IN_PROGRESS" for e in events):
        return f"is {status} after a create that did not complete"
    return None


def delete_stack(cf: Any, stack: dict[str, Any]) -> None:
    cf.delete_stack(StackName=stack["StackId"])


def image_exists(ecr: Any, repository: str, tag: str) -> None:
    """The tag the service will run is in ECR: a missing image hangs an ECS deploy for hours."""
    from botocore.exceptions import ClientError

    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        code = error_code(error)
        if code == "ImageNotFoundException":
            raise PreflightError(
                f"image {repository}:{tag} is not in ECR: push it first (make push ENV=...)"
            ) from None
        if code == "RepositoryNotFoundException":
            raise PreflightError(
                f"ECR repository {repository} does not exist: deploy the registry stack and "
                f"push {repository}:{tag} first"
            ) from None
        raise
