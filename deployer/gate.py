"""The checks at a progressive deployment's pause, before production traffic moves: the smoke
check of the new revision through the test listener rule, and the service stack's alarms.

The test rule forwards only requests that carry the test header to the new revision, so the
smoke check sends it; the answer must be 200 with the version being deployed. An alarm of the
stack in ALARM fails the gate (MISSING or INSUFFICIENT_DATA do not: a fresh alarm has no data).
The smoke check has the time --smoke-timeout allows, but never past the pause's expiry, after
which ECS answers by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deployer import rollback, smoke, verify
from deployer.canary import Check
from deployer.ecs_deployments import Deployment, Hook
from deployer.manifest import ServiceSpec
from deployer.params import physical_of
from deployer.poll import Backoff
from deployer.status import error_line

# Seconds kept before the pause expires: the answer must reach ECS before its own timeout.
MARGIN = 60.0


def smoke_check(
    service: ServiceSpec,
    version: str,
    seconds: float,
    say: Callable[[str], None],
    backoff: Backoff = smoke.BACKOFF,
) -> Check:
    """GET the service's health URL with the test header until the new revision answers."""
    assert service.progressive is not None
    url = smoke.health_url(service.url, service.health_path)
    header = {service.progressive.test_header: service.progressive.test_header_value}
    found = smoke.check(url, version, backoff.deadline(seconds), say, backoff, headers=header)
    sent = f"{service.progressive.test_header}: {service.progressive.test_header_value}"
    if found.passed:
        line = f"{url} with {sent} answers version {version} (after {found.attempts} GET)"
    else:
        last = found.last.describe() if found.last else "nothing"
        line = f"{url} with {sent} did not answer 200 with version {version} (last: {last})"
    return Check("smoke", found.passed, line)


def alarm_names(cf: Any, stack_id: str, template: dict[str, Any]) -> dict[str, str | None]:
    """The stack's alarms as they are now (this update may have created one): logical ID ->
    the name CloudFormation gave it (None: not created)."""
    resources = cf.describe_stack_resources(StackName=stack_id)["StackResources"]
    return verify.alarms_of(template, physical_of(resources))


def alarms_check(cloudwatch: Any, alarms: dict[str, str | None]) -> Check:
    """Any of the alarms in ALARM fails, named with CloudWatch's reason."""
    states = verify.alarm_states(cloudwatch, alarms) if alarms else []
    firing = [a for a in states if a.state == "ALARM"]
    if firing:
        named = "; ".join(f"{a.logical_id} ({a.name}) is in ALARM: {a.reason}" for a in firing)
        return Check("alarms", False, named)
    quiet = sum(a.state in verify.QUIET for a in states)
    missing = [a.logical_id for a in states if a.state == verify.MISSING]
    extra = f"; not in CloudWatch: {', '.join(missing)}" if missing else ""
    counts = f"{quiet} OK or INSUFFICIENT_DATA{extra}"
    return Check("alarms", True, f"none of {len(states)} in ALARM ({counts})")


def seconds_until(hook: Hook, wanted: float, now: Callable[[], datetime] | None = None) -> float:
    """`wanted` seconds, or fewer when the pause expires sooner (less MARGIN)."""
    if hook.expires_at is None:
        return wanted
    current = (now or (lambda: datetime.now(UTC)))()
    return max(0.0, min(wanted, (hook.expires_at - current).total_seconds() - MARGIN))


def checks(
    aws: Any,
    stack_id: str,
    template: dict[str, Any],
    service: ServiceSpec,
    smoke_seconds: float,
    say: Callable[[str], None],
) -> Callable[[Deployment, Hook], list[Check]]:
    """The gate canary.CanaryWatch runs at the pause: smoke first, then the alarms (read
    after the smoke's requests, which are what may have set them off). The version expected
    is the stack's image tag as this update set it (a deploy's or a rollback's)."""

    def run(_deployment: Deployment, hook: Hook) -> list[Check]:
        stack = aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        version = rollback.current_tag(stack) or ""
        from botocore.exceptions import BotoCoreError, ClientError

        tested = smoke_check(service, version, seconds_until(hook, smoke_seconds), say)
        try:
            alarms = alarm_names(aws.cloudformation, stack_id, template)
            quiet = alarms_check(aws.client("cloudwatch"), alarms)
        except (ClientError, BotoCoreError) as error:  # unread is not quiet: roll back
            quiet = Check("alarms", False, f"could not be read ({error_line(error)})")
        return [tested, quiet]

    return run
