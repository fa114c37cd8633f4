"""What follows a successful deploy of the stack that runs the image: the rollout as ECS ends
it, the alarms and the paging (unless --no-verify), the smoke check, and the record of the
image tag that a later rollback goes back from.

An alarm in ALARM or a failed smoke check fails the run (DeployFailed, exit 1), and then the
tag is not recorded: a rollback never goes back to a version that was not proven good.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from deployer import rollback, rollout, smoke, verify
from deployer.errors import DeployFailed
from deployer.follow import describe_stack
from deployer.manifest import StackSpec
from deployer.run import CREATED, NO_CHANGES, UPDATED

# The outcomes after which the stack is as deployed: executed, or already so.
DEPLOYED = frozenset({CREATED, UPDATED, NO_CHANGES})


@dataclass(frozen=True)
class Checks:
    verify: bool = True  # the alarms and the paging; --no-verify skips them
    smoke_seconds: float = 300.0
    missing_alarms_known: bool = False  # verify.Verification.missing_known


def upstream_topics(deployer: Any, spec: StackSpec) -> dict[str, str | None]:
    """The topics of other stacks that `spec`'s parameters take (the environment stack's alert
    topic, which a service stack's alarms page), by logical ID -> physical ID."""
    found: dict[str, str | None] = {}
    for source in spec.parameters_from_stacks.values():
        upstream = deployer.manifest.stack(source.stack)
        topics = set(source.resources) & set(verify.of_type(upstream.template, verify.TOPIC_TYPE))
        if topics:
            physical = deployer.resolver.physical_ids(upstream.key)
            found.update({topic: physical.get(topic) for topic in sorted(topics)})
    return found


def run(deployer: Any, checks: Checks, kind: str = rollback.DEPLOY) -> dict[str, Any] | None:
    """The checks after `deployer` ran: None when it did not deploy the image's stack."""
    manifest = deployer.manifest
    spec = next((s for s in manifest.stacks if manifest.image_of(s) is not None), None)
    result = next(
        (r for r in deployer.results if spec and r.key == spec.key and r.outcome in DEPLOYED),
        None,
    )
    if spec is None or result is None:
        return None
    say, aws = deployer.say, deployer.aws
    image = manifest.image_of(spec)
    assert image is not None  # spec was chosen for it
    tag = image.tag
    runs_tag(deployer.cf, spec.stack_name, tag)
    say("")
    say(f"After the {kind} of {spec.stack_name} (image {tag}):")
    physical = deployer.resolver.physical_ids(spec.key)
    report: dict[str, Any] = {"stack": spec.stack_name, "image_tag": tag}
    services = [physical[s] for s in rollout.service_logical_ids(spec.template) if s in physical]
    found = rollout.read(aws.client("ecs"), services[0]) if services else None
    report["rollout"] = found.to_dict() if found else None
    say(f"  {found.line()}" if found else "  rollout: the stack runs no ECS service")
    if found and found.failed:
        for task in rollout.stopped_tasks(aws.client("ecs"), services[0], found.deployment):
            say(f"    {rollout.stopped_line(task)}")
    verified = None
    if checks.verify:
        verified = verify.verify(
            aws.client, spec.template, physical, upstream_topics(deployer, spec)
        )
        verified = replace(verified, missing_known=checks.missing_alarms_known)
        report["verify"] = verified.to_dict()
        for line in verified.lines():
            say(f"  {line}")
    else:
        say("  alarms and paging: not checked (--no-verify)")
    url = next((o.value for o in result.outputs if o.key == smoke.URL_OUTPUT), None)
    endpoint = aws.client("elbv2").meta.endpoint_url
    checked = smoke.smoke(url, tag, endpoint, checks.smoke_seconds, say)
    report["smoke"] = checked.to_dict()
    say(f"  {checked.line()}")
    judge(spec.stack_name, deployer.manifest.environment, tag, verified, checked)
    name = rollback.parameter_name(spec)
    if rollback.record(aws.client("ssm"), name, tag, kind, deployer.options.revision):
        say(f"  recorded image {tag} in SSM parameter {name} (make rollback goes back from it)")
    report["recorded_in"] = name
    return report


def runs_tag(cf: Any, stack_name: str, tag: str) -> None:
    """The stack's image tag is the one deployed: else nothing is checked or recorded (a
    change set found nothing to change, or another deploy came in between)."""
    stack = describe_stack(cf, stack_name)
    running = rollback.current_tag(stack) if stack else None
    if running != tag:
        raise DeployFailed(
            f"{stack_name} runs image {running}, not {tag}",
            [
                f"CloudFormation found nothing to change, yet the stack's "
                f"{rollback.IMAGE_TAG_PARAMETER} is {running}: image {tag} is not recorded, "
                "and nothing was checked. make status shows what runs."
            ],
        )


def judge(
    stack_name: str,
    environment: str,
    tag: str,
    verified: verify.Verification | None,
    checked: smoke.Smoke,
) -> None:
    """DeployFailed when an alarm fires or the smoke check failed (not when it could not
    run), naming each; the image is then not recorded as good."""
    failures = [
        f"Alarm {alarm.logical_id} ({alarm.name}) is in ALARM: {alarm.reason or 'no reason given'}"
        for alarm in (verified.firing() if verified else [])
    ]
    if not checked.passed and not checked.not_run:
        failures.append(checked.line())
    if failures:
        raise DeployFailed(
            f"{stack_name} deployed, but the checks after it failed",
            [
                *failures,
                f"Image {tag} is not recorded as good. To go back to the image before it: "
                f"make rollback ENV={environment}",
            ],
        )
