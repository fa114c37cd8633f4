"""Named predicates over CloudFormation stack and change-set statuses."""

from __future__ import annotations

NO_CHANGES_REASONS = (
    "didn't contain changes",
    "No updates are to be performed",
)
THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
FAILED_CREATE = "ROLLBACK_COMPLETE"
# A first create that failed: the stack holds nothing to update, only to delete. ROLLBACK_FAILED
# is the same create whose rollback also failed (AWS: "delete the stack").
FAILED_CREATES = frozenset({FAILED_CREATE, "ROLLBACK_FAILED"})
# A delete that failed: the stack can be deleted again, and nothing else.
DELETE_FAILED = "DELETE_FAILED"
# An update's rollback that failed: only ContinueUpdateRollback moves the stack on.
ROLLBACK_STUCK = frozenset({"UPDATE_ROLLBACK_FAILED"})
# Another operation holds the stack (someone else's deploy), or the change set went stale.
BUSY_TEXT = ("_IN_PROGRESS state and can not be updated", "is in a transitional state")
BUSY_CODES = frozenset({"OperationInProgressException", "InvalidChangeSetStatus"})
# AWS rejected the key, its signature or its session token (not a permission: AccessDenied).
CREDENTIALS_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "AuthFailure",
    }
)


def is_in_progress(status: str) -> bool:
    """An operation is running; REVIEW_IN_PROGRESS only means a change set awaits execution."""
    return status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def operation(status: str) -> str:
    """What a stack in `status` is doing: CREATE, UPDATE, DELETE, IMPORT or ROLLBACK (a failed
    create or update being undone: ROLLBACK_IN_PROGRESS, UPDATE_ROLLBACK_IN_PROGRESS...)."""
    return "ROLLBACK" if "ROLLBACK" in status else status.split("_", 1)[0]


def is_success(status: str) -> bool:
    return status in {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}


def is_failure(status: str) -> bool:
    """A settled state that means the last operation did not do what was asked."""
    return status.endswith("_FAILED") or "ROLLBACK" in status


def is_failed_event(status: str) -> bool:
    return status.endswith("_FAILED")


def is_busy(error: Exception) -> bool:
    """CloudFormation refused because the stack is busy with another operation, or the change
    set is no longer executable (the stack changed after it was made)."""
    return error_code(error) in BUSY_CODES or any(text in str(error) for text in BUSY_TEXT)


def change_set_has_no_changes(reason: str | None) -> bool:
    return any(text in (reason or "") for text in NO_CHANGES_REASONS)


def is_throttling(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    message = response.get("Error", {}).get("Message", "")
    return error_code(error) in THROTTLING_CODES or "Rate exceeded" in message


def is_missing_stack(error: Exception) -> bool:
    """CloudFormation's answer for a stack that does not exist (a ValidationError by text)."""
    return "does not exist" in str(error)


def is_credentials_error(error: Exception) -> bool:
    """AWS rejected the credentials, or botocore could not load them when first used (an
    expired SSO login, a failed role assumption, a profile that does not exist)."""
    from botocore import exceptions

    unusable = (
        exceptions.NoCredentialsError,
        exceptions.PartialCredentialsError,
        exceptions.ProfileNotFound,
        exceptions.CredentialRetrievalError,
        exceptions.TokenRetrievalError,
        exceptions.SSOError,
        exceptions.UnknownCredentialError,
    )
    return isinstance(error, unusable) or error_code(error) in CREDENTIALS_CODES


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")


def error_line(error: Exception) -> str:
    """An AWS error as said to a person: AWS's own words, but an endpoint that does not
    implement the call (moto answers HTTP 500 with an HTML page) in one line, not the page."""
    response = getattr(error, "response", None) or {}
    message = str(response.get("Error", {}).get("Message", "")).strip()
    operation = getattr(error, "operation_name", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if operation and (message.startswith("<") or ((status or 0) >= 500 and not message)):
        return f"{operation} answered HTTP {status}: the endpoint does not implement it"
    return str(error).strip() or type(error).__name__
