"""Checks before any change set: credentials resolve, what state the stack is in, whether the
image to run exists. Each raises PreflightError with what to do, or returns what it found."""

from __future__ import annotations

from typing import Any

from deployer.errors import PreflightError
from deployer.status import FAILED_CREATE, error_code

CREDENTIALS_HINT = (
    "Set AWS_PROFILE (or the AWS_* variables), or log in again if they expired "
    "(aws sso login), and try again."
)


def credentials(session: Any, region: str) -> str:
    """Credentials resolve, through botocore's own chain (environment, profile, SSO, container
    or instance role), with no round trip of ours; returns where they came from.

    Whether AWS accepts them shows on the first CloudFormation call, a read (DescribeStacks)
    made before any change; `deploy.main` reports a rejection as a credentials error
    (`status.is_credentials_error`). The account is read from the stacks' ARNs."""
    from botocore.exceptions import BotoCoreError

    try:
        found = session.get_credentials()
    except BotoCoreError as error:
        raise PreflightError(
            f"AWS credentials for region {region} did not resolve: {error}. {CREDENTIALS_HINT}"
        ) from None
    if found is None:
        raise PreflightError(
            f"no AWS credentials found for region {region} (none in the environment, the "
            f"shared config and credentials files, or an instance or container role). "
            f"{CREDENTIALS_HINT}"
        )
    profile = session.profile
    return f"profile {profile}, {found.method}" if profile else found.method


def caller_account(sts: Any, region: str) -> str:
    """The credentials' account (STS GetCallerIdentity): asked only where no stack ARN tells
    it yet and it is needed (the template bucket of a stack not created yet)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise PreflightError(
            f"AWS credentials for region {region} did not work: {error}. {CREDENTIALS_HINT}"
        ) from None
    return found["Account"]


def account_of(arn: str) -> str:
    """The account in an ARN (arn:partition:service:region:account:...)."""
    return arn.split(":")[4]


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


IMAGE_PRESENT, TAG_MISSING, REPOSITORY_MISSING = "present", "tag missing", "repository missing"


def image_state(ecr: Any, repository: str, tag: str) -> str:
    """IMAGE_PRESENT, TAG_MISSING (push it), or REPOSITORY_MISSING (deploy the registry)."""
    from botocore.exceptions import ClientError

    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        code = error_code(error)
        if code == "ImageNotFoundException":
            return TAG_MISSING
        if code == "RepositoryNotFoundException":
            return REPOSITORY_MISSING
        raise
    return IMAGE_PRESENT


def image_exists(ecr: Any, repository: str, tag: str) -> None:
    """The tag the service will run is in ECR: a missing image hangs an ECS deploy for hours."""
    state = image_state(ecr, repository, tag)
    if state == TAG_MISSING:
        raise PreflightError(
            f"image {repository}:{tag} is not in ECR: push it first (make push ENV=...)"
        )
    if state == REPOSITORY_MISSING:
        raise PreflightError(
            f"ECR repository {repository} does not exist: deploy the registry stack and "
            f"push {repository}:{tag} first"
        )
