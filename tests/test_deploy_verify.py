"""The checks after a deploy: alarm states and the paging subscription, read from moto over
HTTP (alarms put in ALARM with SetAlarmState, a public API); a PendingConfirmation
subscription through botocore's Stubber, because moto confirms every subscription it makes."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from deployer import postdeploy, smoke, verify
from deployer.errors import DeployFailed
from deployer.session import Aws

TEMPLATE = {
    "Resources": {
        "Target5xxAlarm": {"Type": "AWS::CloudWatch::Alarm"},
        "LatencyP99Alarm": {"Type": "AWS::CloudWatch::Alarm"},
        "AlertTopic": {"Type": "AWS::SNS::Topic"},
    }
}
NOT_RUN = smoke.Smoke("https://app.example.com/_health", "v2", False, not_run="emulated")


def put_alarm(aws: Aws, name: str) -> None:
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )


@pytest.fixture
def stack(aws: dict[str, str]) -> tuple[Aws, dict[str, str]]:
    """The resources a deployed service stack has, made directly: moto's CloudFormation
    creates no alarms, so no stack of moto's can own one."""
    session = Aws("us-east-1")
    put_alarm(session, "svc-Target5xxAlarm-ABC")
    put_alarm(session, "svc-LatencyP99Alarm-DEF")
    topic = session.client("sns").create_topic(Name="svc-AlertTopic")["TopicArn"]
    session.client("sns").subscribe(
        TopicArn=topic,
        Protocol="https",
        Endpoint="https://events.pagerduty.com/integration/SECRETKEY/enqueue",
    )
    physical = {
        "Target5xxAlarm": "svc-Target5xxAlarm-ABC",
        "LatencyP99Alarm": "svc-LatencyP99Alarm-DEF",
        "AlertTopic": topic,
    }
    return session, physical


def test_quiet_alarms_and_a_confirmed_subscription_pass(stack) -> None:
    session, physical = stack
    session.client("cloudwatch").set_alarm_state(
        AlarmName="svc-LatencyP99Alarm-DEF", StateValue="INSUFFICIENT_DATA", StateReason="new"
    )
    found = verify.verify(session.client, TEMPLATE, physical)
    assert [(a.logical_id, a.state) for a in found.alarms] == [
        ("LatencyP99Alarm", "INSUFFICIENT_DATA"),
        ("Target5xxAlarm", "OK"),
    ]
    assert found.firing() == [] and found.warnings() == []
    assert found.lines()[-2:] == [
        "paging: 1 of 1 subscriptions confirmed",
        "  AlertTopic: https to events.pagerduty.com: confirmed",
    ]
    assert "SECRETKEY" not in "\n".join(found.lines())  # the integration key is never shown
    postdeploy.judge("svc", "local", "web", "v2", found, NOT_RUN)  # does not raise


def test_an_alarm_in_alarm_fails_the_run_naming_it(stack) -> None:
    session, physical = stack
    session.client("cloudwatch").set_alarm_state(
        AlarmName="svc-Target5xxAlarm-ABC",
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [7.0] was greater than the threshold (1.0).",
    )
    found = verify.verify(session.client, TEMPLATE, physical)
    assert [a.logical_id for a in found.firing()] == ["Target5xxAlarm"]
    with pytest.raises(DeployFailed) as failed:
        postdeploy.judge("svc", "local", "web", "v2", found, NOT_RUN)
    assert failed.value.report[0] == (
        "Alarm Target5xxAlarm (svc-Target5xxAlarm-ABC) is in ALARM: Threshold Crossed: "
        "1 datapoint [7.0] was greater than the threshold (1.0)."
    )
    assert "make rollback ENV=local SERVICE=web" in failed.value.report[-1]


def test_an_alarm_the_stack_declares_and_cloudwatch_lacks_is_a_warning(stack) -> None:
    session, physical = stack
    del physical["LatencyP99Alarm"]
    found = verify.verify(session.client, TEMPLATE, physical)
    assert (found.alarms[0].logical_id, found.alarms[0].state) == ("LatencyP99Alarm", "MISSING")
    assert found.warnings() == [
        "WARNING: 1 of the stack's 2 alarms are not in CloudWatch, so nothing watches what "
        "they would: LatencyP99Alarm"
    ]


def test_a_topic_without_subscription_warns_that_pages_will_not_arrive(aws) -> None:
    session = Aws("us-east-1")
    topic = session.client("sns").create_topic(Name="lonely")["TopicArn"]
    found = verify.verify(session.client, TEMPLATE, {"AlertTopic": topic})
    assert found.warnings()[-1] == (
        "WARNING: PAGES WILL NOT ARRIVE: topic AlertTopic has no subscription"
    )


def test_a_pending_confirmation_subscription_is_a_loud_warning(aws) -> None:
    """Stubbed: moto marks every subscription confirmed; AWS lists an unconfirmed one with
    SubscriptionArn "PendingConfirmation" until the endpoint confirms it."""
    sns = Aws("us-east-1").client("sns")
    topic = "arn:aws:sns:us-east-1:123456789012:svc-AlertTopic"
    with Stubber(sns) as stub:
        stub.add_response(
            "list_subscriptions_by_topic",
            {
                "Subscriptions": [
                    {
                        "SubscriptionArn": "PendingConfirmation",
                        "Owner": "123456789012",
                        "Protocol": "https",
                        "Endpoint": "https://events.pagerduty.com/integration/KEY/enqueue",
                        "TopicArn": topic,
                    }
                ]
            },
            {"TopicArn": topic},
        )
        subscriptions, silent = verify.topic_subscriptions(sns, {"AlertTopic": topic})
    found = verify.Verification([], subscriptions, silent)
    assert found.warnings() == [
        "WARNING: PAGES WILL NOT ARRIVE: the https subscription of AlertTopic to "
        "events.pagerduty.com is PendingConfirmation, not confirmed; SNS delivers nothing to "
        "it. Check the integration URL (PagerDutyUrl): the endpoint must answer SNS's "
        "confirmation request"
    ]
    assert "  AlertTopic: https to events.pagerduty.com: PendingConfirmation" in found.lines()
    postdeploy.judge("svc", "local", "web", "v2", found, NOT_RUN)  # a warning, not a failure


def test_a_failed_smoke_check_fails_the_run_and_one_that_could_not_run_does_not() -> None:
    failed = smoke.Smoke("https://a/_health", "v2", False, 9, smoke.Answer(200, "v1"))
    with pytest.raises(DeployFailed) as raised:
        postdeploy.judge("svc", "local", "web", "v2", None, failed)
    assert raised.value.report[0] == failed.line()
    postdeploy.judge("svc", "local", "web", "v2", None, NOT_RUN)
