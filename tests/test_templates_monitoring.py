"""The alert topic, its key, PagerDuty's subscription and every alarm."""

from __future__ import annotations

import pytest
from templates_support import properties, resources_of_type, stack_template

from environments import load
from templates import build_stacks


def test_topic_is_encrypted_with_the_key_and_subscribes_pagerduty_over_https() -> None:
    topic = properties("AlertTopic", key="environment")
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertingKey"}
    # Inline, so that moto creates it too (it skips AWS::SNS::Subscription resources).
    assert topic["Subscription"] == [{"Protocol": "https", "Endpoint": {"Ref": "PagerDutyUrl"}}]


def test_pagerduty_url_comes_from_ssm_or_a_noecho_parameter_never_from_git() -> None:
    production = stack_template(key="environment")["Parameters"]["PagerDutyUrl"]
    assert production["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert production["Default"] == load("production").pagerduty.ssm_parameter
    (staging,) = [s for s in build_stacks(load("staging"), "test") if s.key == "environment"]
    assert staging.template.to_dict()["Parameters"]["PagerDutyUrl"]["NoEcho"] is True
    assert staging.parameters_from_env == {"PagerDutyUrl": "PAGERDUTY_URL"}


def test_key_rotates_and_lets_cloudwatch_use_it() -> None:
    key = properties("AlertingKey", key="environment")
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    assert key["KeyPolicy"]["Version"] == "2012-10-17"
    (cloudwatch,) = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert all("*" not in action for s in statements for action in s["Action"])


def test_every_alarm_pages_on_alarm_and_resolves_on_ok() -> None:
    alarms = resources_of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for alarm in alarms.values():
        # The environment stack's topic, a parameter of the service's stack.
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopicArn"}]
        assert alarm["OKActions"] == [{"Ref": "AlertTopicArn"}]


THRESHOLDS = load("production").alarms


@pytest.mark.parametrize(
    ("alarm", "metric", "statistic", "threshold"),
    [
        ("LoadBalancer5xxAlarm", "HTTPCode_ELB_5XX_Count", "Sum", THRESHOLDS.elb_5xx_count),
        ("Target5xxAlarm", "HTTPCode_Target_5XX_Count", "Sum", THRESHOLDS.target_5xx_count),
        ("UnhealthyHostsAlarm", "UnHealthyHostCount", "Maximum", THRESHOLDS.unhealthy_hosts),
    ],
)
def test_load_balancer_alarms(alarm: str, metric: str, statistic: str, threshold: float) -> None:
    """On a rolling service (local's web): the one metric, as the alarm's own."""
    props = properties(alarm, env_name="local")
    assert props["Namespace"] == "AWS/ApplicationELB"
    assert (props["MetricName"], props["Statistic"]) == (metric, statistic)
    assert props["Period"] == 60
    production = properties(alarm)
    assert production["Threshold"] == threshold
    assert production["EvaluationPeriods"] == THRESHOLDS.evaluation_periods


def test_latency_alarm_watches_p99_target_response_time() -> None:
    props = properties("LatencyP99Alarm", env_name="local")
    assert props["MetricName"] == "TargetResponseTime"
    assert props["ExtendedStatistic"] == "p99"
    assert properties("LatencyP99Alarm")["Threshold"] == THRESHOLDS.p99_latency_seconds


@pytest.mark.parametrize(
    ("alarm", "metric", "stat", "combined"),
    [
        ("Target5xxAlarm", "HTTPCode_Target_5XX_Count", "Sum", "FILL(primary, 0) + FILL("),
        ("UnhealthyHostsAlarm", "UnHealthyHostCount", "Maximum", "FILL(primary, 0) + FILL("),
        ("LatencyP99Alarm", "TargetResponseTime", "p99", "MAX([FILL(primary, 0), FILL("),
    ],
)
def test_a_progressive_services_target_group_alarms_watch_both_groups(
    alarm: str, metric: str, stat: str, combined: str
) -> None:
    """production's web is a canary: ECS moves production between the two target groups, and
    the canary's share goes to the other one: the alarms that roll a deployment back watch both."""
    props = properties(alarm)
    assert "MetricName" not in props
    inputs = {q["Id"]: q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q}
    assert {i["Metric"]["MetricName"] for i in inputs.values()} == {metric}
    assert {i["Stat"] for i in inputs.values()} == {stat}
    groups = [
        dim["Value"]["Fn::Select"][1]["Fn::Split"][1]
        for i in inputs.values()
        for dim in i["Metric"]["Dimensions"]
        if dim["Name"] == "TargetGroup"
    ]
    assert groups == [{"Ref": "TargetGroup"}, {"Ref": "AlternateTargetGroup"}]
    (returned,) = [q for q in props["Metrics"] if q["ReturnData"]]
    assert returned["Expression"].startswith(combined)


def test_4xx_alarm_is_a_percentage_of_requests_by_metric_math() -> None:
    props = properties("Client4xxRateAlarm")
    assert "MetricName" not in props
    queries = {q["Id"]: q for q in props["Metrics"]}
    names = {q["MetricStat"]["Metric"]["MetricName"] for q in queries.values() if "MetricStat" in q}
    assert names == {"HTTPCode_Target_4XX_Count", "HTTPCode_ELB_4XX_Count", "RequestCount"}
    (returned,) = [q for q in props["Metrics"] if q["ReturnData"]]
    assert "/ requests" in returned["Expression"]
    assert "100 *" in returned["Expression"]
    assert props["Threshold"] == THRESHOLDS.client_4xx_percent


def test_running_task_count_below_desired_alarms() -> None:
    props = properties("RunningTasksAlarm")
    queries = {q["Id"]: q for q in props["Metrics"]}
    assert queries["running"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
    assert queries["desired"]["MetricStat"]["Metric"]["Namespace"] == "ECS/ContainerInsights"
    assert queries["missing"]["Expression"] == "desired - running"
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
