"""What follows a successful deploy of the stack that runs the image: the rollout as ECS ends
it, the alarms and the paging (unless --no-verify), the smoke check, and the record of the
image tag that a later rollback goes back from.

An alarm in ALARM or a failed smoke check fails the run (DeployFailed, exit 1), and then the
tag is not recorded: a rollback never goes back to a version that was not proven good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from deployer import parallel, rollback, rollout, smoke, verify
from deployer.errors import DeployFailed, Interrupted
from deployer.follow import describe_stack
from deployer.manifest import ServiceSpec, StackSpec
from deployer.output import Output
from deployer.run import CREATED, NO_CHANGES, UPDATED

# The outcomes after which the stack is as deployed: executed, or already so.
DEPLOYED = frozenset({CREATED, UPDATED, NO_CHANGES})


@dataclass(frozen=True)
class Checks:
    verify: bool = True  # the alarms and the paging; --no-verify skips them
    smoke_seconds: float = 300.0
    missing_alarms_known: bool = False  # verify.Verification.missing_known


def upstream_topics(manifest: Any, resolver: Any, spec: StackSpec) -> dict[str, str | None]:
    """The topics of other stacks that `spec`'s parameters take (the environment stack's alert
    topic, which a service stack's alarms page), by logical ID -> physical ID."""
    found: dict[str, str | None] = {}
    for source in spec.parameters_from_stacks.values():
        upstream = manifest.stack(source.stack)
        topics = set(source.resources) & set(verify.of_type(upstream.template, verify.TOPIC_TYPE))
        if topics:
            physical = resolver.physical_ids(upstream.key)
            found.update({topic: physical.get(topic) for topic in sorted(topics)})
    return found


def run(
    deployer: Any,
    checks: Checks,
    kind: str = rollback.DEPLOY,
    reports: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The checks after `deployer` ran, for every service whose stack it deployed (a CREATED,
    UPDATED or NO_CHANGES outcome), each under its own header: one service failing its checks
    does not skip the others'. The services are checked side by side (at most --concurrency
    at once); each one's lines are written as one block, in the manifest's order, as they
    would be one after the other. [] when it deployed no service's stack; DeployFailed,
    naming every service that failed, once all were checked (`reports`, in the manifest's
    order, then holds every service's); Interrupted on Ctrl-C, naming those not finished."""
    manifest = deployer.manifest
    results = {r.key: r for r in deployer.results if r.outcome in DEPLOYED}
    reports = [] if reports is None else reports
    services = [s for s in manifest.services if s.stack in results]
    output = deployer.options.output or Output(deployer.say)
    # The emulator's missing alarms are said in full once, then as one line per service: by
    # the first block written that has any (blocks are written in order, by one thread).
    said = [checks.missing_alarms_known]

    def check(index: int) -> dict[str, Any]:
        service = services[index]
        spec = manifest.stack(service.stack)
        return check_service(
            deployer, checks, kind, service, spec, results[spec.key], output.later, said
        )

    say = deployer.say
    deployer.say = output.say  # held per service while it is checked (a no-op when it is)
    try:
        outcomes = parallel.in_order(
            len(services), check, output, deployer.options.concurrency, name="checks"
        )
    except parallel.Unfinished as stopped:
        reports.extend(
            _report(service, manifest, stopped.outcomes.get(i))
            for i, service in enumerate(services)
            if i not in stopped.indices
        )
        names = ", ".join(services[i].name for i in stopped.indices)
        raise Interrupted(
            f"interrupted: the checks after the {kind} of {names} did not finish (their image "
            "is not recorded as good); the stacks are deployed: make status shows them"
        ) from None
    finally:
        deployer.say = say
    failed: list[tuple[str, DeployFailed]] = []
    for service, outcome in zip(services, outcomes, strict=True):
        assert outcome is not None  # nothing stops the run: every service was checked
        reports.append(_report(service, manifest, outcome))
        if isinstance(outcome.error, DeployFailed):
            failed.append((service.name, outcome.error))
    for outcome in outcomes:  # an AWS refusal, a bug: raised once every block is written
        if outcome is not None and not isinstance(outcome.error, DeployFailed | None):
            outcome.get()
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise DeployFailed(
            f"the checks after the {kind} failed for {len(failed)} of {len(reports)} "
            f"services: {names}",
            [f"{name}: {line}" for name, error in failed for line in [str(error), *error.report]],
        )
    return reports


def _report(
    service: ServiceSpec, manifest: Any, outcome: parallel.Outcome[dict[str, Any]] | None
) -> dict[str, Any]:
    """One service's entry of the JSON's after_deploy."""
    report: dict[str, Any] = {
        "service": service.name,
        "stack": manifest.stack(service.stack).stack_name,
    }
    if outcome is not None and outcome.error is None:
        report.update(outcome.value or {})
    elif outcome is not None and isinstance(outcome.error, DeployFailed):
        report["failed"] = str(outcome.error)
    return report


def check_service(
    deployer: Any,
    checks: Checks,
    kind: str,
    service: ServiceSpec,
    spec: StackSpec,
    result: Any,
    later: Callable[[Callable[[], list[str]]], None],
    said: list[bool],
) -> dict[str, Any]:
    """One service's rollout, alarms, paging, smoke check on its own route, and the record
    of its image tag (only once all of them passed). `later`: lines rendered as they are
    written (Output.later); `said[0]`: the missing alarms were said in full already."""
    say, aws = deployer.say, deployer.aws
    stack = describe_stack(deployer.cf, spec.stack_name)
    tag = rollback.current_tag(stack) if stack else None
    expected = service.image.tag if service.image is not None else None
    if expected is not None:
        runs_tag(spec.stack_name, stack, expected)
        tag = expected
    say("")
    say(f"After the {kind} of {spec.stack_name} (service {service.name}, image {tag}):")
    physical = deployer.resolver.physical_ids(spec.key)
    report: dict[str, Any] = {"image_tag": tag}
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
            aws.client,
            spec.template,
            physical,
            upstream_topics(deployer.manifest, deployer.resolver, spec),
        )
        report["verify"] = verified.to_dict()
        later(partial(_alarm_lines, verified, report["verify"], said))
    else:
        say("  alarms and paging: not checked (--no-verify)")
    url = service.url or next((o.value for o in result.outputs if o.key == smoke.URL_OUTPUT), None)
    endpoint = aws.client("elbv2").meta.endpoint_url
    checked = smoke.smoke(url, tag or "", endpoint, checks.smoke_seconds, say, service.health_path)
    report["smoke"] = checked.to_dict()
    say(f"  {checked.line()}")
    judge(spec.stack_name, deployer.manifest.environment, service.name, tag, verified, checked)
    name = rollback.parameter_name(spec)
    if tag is not None and rollback.record(
        aws.client("ssm"), name, tag, kind, deployer.options.revision
    ):
        say(f"  recorded image {tag} in SSM parameter {name} (make rollback goes back from it)")
    report["recorded_in"] = name
    return report


def _alarm_lines(
    verified: verify.Verification, shown: dict[str, Any], said: list[bool]
) -> list[str]:
    """The alarms and paging, as written in the block's turn: in full, or (the endpoint's
    missing alarms said in full by a block before) one short line for them."""
    verified = replace(verified, missing_known=said[0])
    shown["missing_known"] = said[0]
    said[0] = said[0] or any(a.state == verify.MISSING for a in verified.alarms)
    return [f"  {line}" for line in verified.lines()]


def runs_tag(stack_name: str, stack: dict[str, Any] | None, tag: str) -> None:
    """The stack (as just described) runs the image tag deployed: else nothing is checked or
    recorded (a change set found nothing to change, or another deploy came in between)."""
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
    service: str,
    tag: str | None,
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
                f"make rollback ENV={environment} SERVICE={service}",
            ],
        )
