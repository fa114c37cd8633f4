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
from deployer.manifest import ServiceSpec, StackSpec
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
    does not skip the others'. [] when it deployed no service's stack; DeployFailed, naming
    every service that failed, once all were checked (`reports`, filled as they are, then
    holds every service's)."""
    manifest = deployer.manifest
    results = {r.key: r for r in deployer.results if r.outcome in DEPLOYED}
    reports = [] if reports is None else reports
    failed: list[tuple[str, DeployFailed]] = []
    for service in manifest.services:
        result = results.get(service.stack)
        if result is None:
            continue
        spec = manifest.stack(service.stack)
        report: dict[str, Any] = {"service": service.name, "stack": spec.stack_name}
        reports.append(report)
        try:
            report.update(check_service(deployer, checks, kind, service, spec, result))
        except DeployFailed as error:
            report["failed"] = str(error)
            failed.append((service.name, error))
        # the emulator's missing alarms are said in full once, then as one line per service
        said = any(a["state"] == verify.MISSING for a in report.get("verify", {}).get("alarms", []))
        checks = replace(checks, missing_alarms_known=checks.missing_alarms_known or said)
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise DeployFailed(
            f"the checks after the {kind} failed for {len(failed)} of {len(reports)} "
            f"services: {names}",
            [f"{name}: {line}" for name, error in failed for line in [str(error), *error.report]],
        )
    return reports


def check_service(
    deployer: Any,
    checks: Checks,
    kind: str,
    service: ServiceSpec,
    spec: StackSpec,
    result: Any,
) -> dict[str, Any]:
    """One service's rollout, alarms, paging, smoke check on its own route, and the record
    of its image tag (only once all of them passed)."""
    say, aws = deployer.say, deployer.aws
    stack = describe_stack(deployer.cf, spec.stack_name)
    tag = rollback.current_tag(stack) if stack else None
    expected = service.image.tag if service.image is not None else None
    if expected is not None:
        runs_tag(deployer.cf, spec.stack_name, expected)
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
        verified = replace(verified, missing_known=checks.missing_alarms_known)
        report["verify"] = verified.to_dict()
        for line in verified.lines():
            say(f"  {line}")
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
