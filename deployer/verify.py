"""After a deploy: are the stack's alarms quiet, and would a page reach the on-call engineer?

Every alarm of the stack must be OK or INSUFFICIENT_DATA (a fresh alarm has no data yet); one
in ALARM fails the run, named. The alert topic's subscriptions must be confirmed: SNS lists an
unconfirmed one with SubscriptionArn "PendingConfirmation", and it receives nothing, so pages
never arrive. That, a topic with no subscription, and an alarm the stack declares but
CloudWatch does not have, are loud warnings: the deploy itself worked.

The stack's alarms and topics are its template's resources of those types; their names and
ARNs are the stack's physical IDs (DescribeStackResources).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

ALARM_TYPE = "AWS::CloudWatch::Alarm"
TOPIC_TYPE = "AWS::SNS::Topic"
QUIET = frozenset({"OK", "INSUFFICIENT_DATA"})
MISSING = "MISSING"  # declared by the template, unknown to CloudWatch
DESCRIBE_ALARMS_NAMES = 100  # AlarmNames takes at most 100 names per call


@dataclass(frozen=True)
class AlarmState:
    logical_id: str
    name: str | None  # None: the stack lists no physical alarm for it
    state: str  # OK, ALARM, INSUFFICIENT_DATA, or MISSING
    reason: str = ""


@dataclass(frozen=True)
class Subscription:
    topic: str  # the topic's logical ID
    protocol: str
    endpoint: str  # the host only: a PagerDuty integration URL carries its key
    confirmed: bool
    arn: str  # the subscription's ARN, or what SNS lists instead (PendingConfirmation...)


@dataclass(frozen=True)
class Verification:
    alarms: list[AlarmState] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    silent_topics: list[str] = field(default_factory=list)  # topics nobody subscribes to
    # The missing alarms are a known limit of the endpoint, said in full once already (an
    # emulator whose CloudFormation creates no alarms): one short line instead.
    missing_known: bool = False

    def firing(self) -> list[AlarmState]:
        return [alarm for alarm in self.alarms if alarm.state == "ALARM"]

    def warnings(self) -> list[str]:
        warnings = []
        missing = [alarm.logical_id for alarm in self.alarms if alarm.state == MISSING]
        if missing and self.missing_known:
            warnings.append(
                f"({len(missing)} alarms MISSING: a known limit of this endpoint, which creates "
                "no alarms; said in full on its first deploy)"
            )
        elif missing:
            warnings.append(
                f"WARNING: {len(missing)} of the stack's {len(self.alarms)} alarms are not in "
                f"CloudWatch, so nothing watches what they would: {', '.join(missing)}"
            )
        for sub in self.subscriptions:
            if not sub.confirmed:
                warnings.append(
                    f"WARNING: PAGES WILL NOT ARRIVE: the {sub.protocol} subscription of "
                    f"{sub.topic} to {sub.endpoint} is {sub.arn}, not confirmed; SNS delivers "
                    "nothing to it. Check the integration URL (PagerDutyUrl): the endpoint "
                    "must answer SNS's confirmation request"
                )
        warnings.extend(
            f"WARNING: PAGES WILL NOT ARRIVE: topic {topic} has no subscription"
            for topic in self.silent_topics
        )
        return warnings

    def lines(self) -> list[str]:
        quiet = sum(alarm.state in QUIET for alarm in self.alarms)
        lines = [f"alarms: {quiet} of {len(self.alarms)} OK or INSUFFICIENT_DATA"]
        width = max((len(alarm.logical_id) for alarm in self.alarms), default=0)
        for alarm in self.alarms:
            why = f"  {alarm.reason}" if alarm.state == "ALARM" and alarm.reason else ""
            lines.append(f"  {alarm.logical_id.ljust(width)}  {alarm.state}{why}")
        confirmed = sum(sub.confirmed for sub in self.subscriptions)
        lines.append(f"paging: {confirmed} of {len(self.subscriptions)} subscriptions confirmed")
        for sub in self.subscriptions:
            state = "confirmed" if sub.confirmed else sub.arn
            lines.append(f"  {sub.topic}: {sub.protocol} to {sub.endpoint}: {state}")
        return lines + self.warnings()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "firing": [a.logical_id for a in self.firing()]}


def of_type(template: dict[str, Any], kind: str) -> list[str]:
    return sorted(
        name for name, res in template.get("Resources", {}).items() if res.get("Type") == kind
    )


def verify(
    client: Any,
    template: dict[str, Any],
    physical: dict[str, str],
    upstream_topics: dict[str, str | None] | None = None,
) -> Verification:
    """The states of the template's alarms and the subscriptions of its topics and of
    `upstream_topics` (the topics of other stacks its alarms page: a service stack's are the
    environment stack's); `client(name)` gives a boto client, `physical` the stack's logical ->
    physical IDs."""
    alarms = alarms_of(template, physical)
    topics = {logical: physical.get(logical) for logical in of_type(template, TOPIC_TYPE)}
    topics.update(upstream_topics or {})
    states = alarm_states(client("cloudwatch"), alarms) if alarms else []
    found, silent = topic_subscriptions(client("sns"), topics) if topics else ([], [])
    return Verification(states, found, silent)


def alarms_of(template: dict[str, Any], physical: dict[str, str]) -> dict[str, str | None]:
    """The template's alarms: logical ID -> the name CloudFormation gave it (None: not
    created)."""
    return {logical: physical.get(logical) for logical in of_type(template, ALARM_TYPE)}


def alarm_states(cloudwatch: Any, alarms: dict[str, str | None]) -> list[AlarmState]:
    """Each alarm's StateValue (DescribeAlarms by name, 100 names a call)."""
    names = sorted(name for name in alarms.values() if name)
    described: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), DESCRIBE_ALARMS_NAMES):
        request: dict[str, Any] = {
            "AlarmNames": names[start : start + DESCRIBE_ALARMS_NAMES],
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        while True:
            page = cloudwatch.describe_alarms(**request)
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                described[alarm["AlarmName"]] = alarm
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    states = []
    for logical, name in sorted(alarms.items()):
        alarm = described.get(name or "")
        if alarm is None:
            states.append(AlarmState(logical, name, MISSING))
        else:
            states.append(
                AlarmState(logical, name, alarm["StateValue"], alarm.get("StateReason", ""))
            )
    return states


def topic_subscriptions(
    sns: Any, topics: dict[str, str | None]
) -> tuple[list[Subscription], list[str]]:
    """Every subscription of each topic (ListSubscriptionsByTopic, 100 a page), and the
    topics that have none."""
    found: list[Subscription] = []
    silent: list[str] = []
    for logical, arn in sorted(topics.items()):
        if not arn:
            silent.append(logical)
            continue
        request = {"TopicArn": arn}
        before = len(found)
        while True:
            page = sns.list_subscriptions_by_topic(**request)
            found.extend(_subscription(logical, raw) for raw in page.get("Subscriptions", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        if len(found) == before:
            silent.append(logical)
    return found, silent


def _subscription(topic: str, raw: dict[str, Any]) -> Subscription:
    arn = raw.get("SubscriptionArn", "")
    protocol = raw.get("Protocol", "?")
    endpoint = raw.get("Endpoint", "")
    host = urlsplit(endpoint).hostname if protocol in {"http", "https"} else None
    return Subscription(
        topic=topic,
        protocol=protocol,
        endpoint=host or f"a {protocol} endpoint",
        confirmed=arn.startswith("arn:"),  # else PendingConfirmation (or Deleted)
        arn=arn,
    )
