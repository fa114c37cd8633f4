"""Drift: which of a stack's resources were changed outside CloudFormation, told before its
change set is reviewed.

A change set compares the new template with the old one, not with what runs: a security group
rule added by hand stays after an update that does not touch it. DetectStackDrift compares
what runs with the template; its answer (MODIFIED and DELETED resources, with each property's
expected and actual value) goes in the plan, so the person knows what the update will not put
back (unless the change set is drift-aware: deploy.py --revert-drift).

Detection is asynchronous: `start` asks for it before the change set is created, `collect`
waits for it (bounded) once the change set is computed, so the two overlap. An endpoint that
cannot detect drift (an emulator) or a role not allowed to is one line in the plan, never a
failed plan: drift is information for the reviewer, not a precondition of the deploy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from deployer.poll import Backoff, Deadline
from deployer.status import error_code

DRIFTED = ["MODIFIED", "DELETED"]  # DescribeStackResourceDrifts' filter: what differs
RUNNING = "DETECTION_IN_PROGRESS"


@dataclass(frozen=True)
class Difference:
    """One PropertyDifference: the property's path, its template value and its actual one."""

    path: str
    expected: Any
    actual: Any
    kind: str  # ADD, REMOVE or NOT_EQUAL (AWS's DifferenceType)

    def line(self) -> str:
        if self.kind == "ADD":
            return f"{self.path}: added outside CloudFormation: {_text(self.actual)}"
        if self.kind == "REMOVE":
            return f"{self.path}: removed outside CloudFormation (template: {_text(self.expected)})"
        return f"{self.path}: template {_text(self.expected)}, actual {_text(self.actual)}"


@dataclass(frozen=True)
class Drifted:
    logical_id: str
    resource_type: str
    status: str  # MODIFIED or DELETED
    differences: list[Difference] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.logical_id} ({self.resource_type}): {self.status}"


@dataclass(frozen=True)
class Drift:
    """What the plan says of drift. `checked`: detection ran to the end (`resources` is then
    the whole answer); otherwise `note` says why not."""

    checked: bool
    resources: list[Drifted] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drift:
        return cls(
            checked=data["checked"],
            resources=[
                Drifted(
                    **{
                        **r,
                        "differences": [Difference(**d) for d in r.get("differences", [])],
                    }
                )
                for r in data.get("resources", [])
            ],
            note=data.get("note", ""),
        )

    def lines(self, reverting: bool) -> list[str]:
        """The plan's lines: one when nothing drifted or detection did not run, else a
        heading, then each drifted resource and its differences (indented by two)."""
        if not self.checked:
            return [f"drift not checked: {self.note}"]
        if not self.resources:
            return ["no drift: every resource matches its template" + _also(self.note)]
        then = (
            "this drift-aware change set puts them back to the template"
            if reverting
            else "this update does NOT put them back (REVERT_DRIFT=1 / --revert-drift does)"
        )
        lines = [
            f"DRIFTED: {len(self.resources)} resource(s) changed outside CloudFormation; "
            f"{then}" + _also(self.note)
        ]
        for resource in self.resources:
            lines.append(f"  {resource.line()}")
            lines.extend(f"    {d.line()}" for d in resource.differences)
        return lines


def _also(note: str) -> str:
    return f" ({note})" if note else ""


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def not_checked(why: str) -> Drift:
    return Drift(checked=False, note=why)


def start(cf: Any, stack_id: str) -> str | Drift:
    """Ask CloudFormation to detect the stack's drift; returns the detection's ID, or a Drift
    saying why it could not start."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    try:
        return str(cf.detect_stack_drift(StackName=stack_id)["StackDriftDetectionId"])
    except (ClientError, ResponseParserError) as error:
        return not_checked(_unavailable(error, "DetectStackDrift"))


def collect(
    cf: Any, detection_id: str, stack_id: str, backoff: Backoff, deadline: Deadline
) -> Drift:
    """Wait for the detection (until `deadline`), then read the drifted resources."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    try:
        status = _wait(cf, detection_id, backoff, deadline)
        if status is None:
            return not_checked(
                f"detection {detection_id} still running after {deadline.describe()}; "
                "the plan goes on without it"
            )
        note = ""
        if status["DetectionStatus"] == "DETECTION_FAILED":
            # AWS fails the detection when some resources could not be checked, and still
            # answers for the others: say which could not, show the rest.
            note = f"partly: {status.get('DetectionStatusReason', 'no reason given')}"
        return Drift(True, resources(cf, stack_id), note)
    except (ClientError, ResponseParserError) as error:
        return not_checked(_unavailable(error, "drift detection"))


def _wait(
    cf: Any, detection_id: str, backoff: Backoff, deadline: Deadline
) -> dict[str, Any] | None:
    for delay in backoff.delays():
        status: dict[str, Any] = cf.describe_stack_drift_detection_status(
            StackDriftDetectionId=detection_id
        )
        if status["DetectionStatus"] != RUNNING:
            return status
        if deadline.passed():
            return None
        backoff.sleep(delay)
    raise AssertionError("unreachable")


def resources(cf: Any, stack_id: str) -> list[Drifted]:
    """The MODIFIED and DELETED resources (every page), with their property differences."""
    found: list[Drifted] = []
    request: dict[str, Any] = {"StackName": stack_id, "StackResourceDriftStatusFilters": DRIFTED}
    while True:
        page = cf.describe_stack_resource_drifts(**request)
        found.extend(_drifted(d) for d in page.get("StackResourceDrifts", []))
        if not page.get("NextToken"):
            return sorted(found, key=lambda d: d.logical_id)
        request["NextToken"] = page["NextToken"]


def _drifted(drift: dict[str, Any]) -> Drifted:
    return Drifted(
        drift.get("LogicalResourceId", "?"),
        drift.get("ResourceType", "?"),
        drift.get("StackResourceDriftStatus", "?"),
        [
            Difference(
                d.get("PropertyPath", "?"),
                _value(d.get("ExpectedValue")),
                _value(d.get("ActualValue")),
                d.get("DifferenceType", "?"),
            )
            for d in drift.get("PropertyDifferences", [])
        ],
    )


def _value(text: Any) -> Any:
    """ExpectedValue and ActualValue are JSON text for objects and lists, plain for scalars."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _unavailable(error: Exception, what: str) -> str:
    """Why drift could not be read, in one line: an endpoint without it (moto answers HTTP
    500 with an HTML page, which botocore cannot parse), or CloudFormation's refusal (a role
    without the drift actions, a stack mid-operation)."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return f"the endpoint does not implement {what} (no CloudFormation answer)"
    message = error.response.get("Error", {}).get("Message", "").strip()
    return f"{what} refused: {error_code(error)}" + (f": {message}" if message else "")
