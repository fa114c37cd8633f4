"""The service's dashboard: every graph draws a metric, with the dimensions, that the alarms
watch; the alarm widget shows every alarm; the console URL is an output."""

from __future__ import annotations

import json
import re
from typing import Any

from templates_support import properties, resources_of_type, stack_template

Key = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric, dimensions

# Drawn, and watched by no alarm: the healthy hosts beside the unhealthy ones, and CPU and
# memory (Container Insights' service metrics, as a percentage of what the tasks reserve).
# Each has the dimensions of an alarmed metric of its namespace (checked below).
DISPLAY_ONLY = {
    "HealthyHostCount",
    "CpuUtilized",
    "CpuReserved",
    "MemoryUtilized",
    "MemoryReserved",
}


def _body() -> tuple[dict[str, Any], dict[str, Any]]:
    text, variables = properties("Dashboard")["DashboardBody"]["Fn::Sub"]
    return json.loads(text), variables


def _resolve(value: Any, variables: dict[str, Any]) -> Any:
    """A whole-string ${Name} is the variable's intrinsic function, as the alarms spell it."""
    match = re.fullmatch(r"\$\{(\w+)\}", value) if isinstance(value, str) else None
    return variables[match.group(1)] if match else value


def _key(namespace: str, name: str, dims: list[tuple[str, Any]]) -> Key:
    return namespace, name, tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in dims))


def drawn() -> dict[Key, set[str]]:
    """Each graphed metric, with the statistics it is drawn with."""
    body, variables = _body()
    found: dict[Key, set[str]] = {}
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if not isinstance(line[0], str):  # a metric-math expression
                continue
            *flat, options = line
            namespace, name, *pairs = flat
            dims = [(pairs[i], _resolve(pairs[i + 1], variables)) for i in range(0, len(pairs), 2)]
            found.setdefault(_key(namespace, name, dims), set()).add(options["stat"])
    return found


def watched() -> set[Key]:
    found = set()
    for alarm in resources_of_type("AWS::CloudWatch::Alarm").values():
        metrics = (
            [alarm]
            if "MetricName" in alarm
            else [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]
        )
        for metric in metrics:
            dims = [(d["Name"], d["Value"]) for d in metric["Dimensions"]]
            found.add(_key(metric["Namespace"], metric["MetricName"], dims))
    return found


def test_every_graphed_metric_is_one_the_alarms_watch_with_the_same_dimensions() -> None:
    graphed, alarmed = set(drawn()), watched()
    assert alarmed <= graphed  # every alarm's metric is on the dashboard
    extra = graphed - alarmed
    assert {name for _namespace, name, _dims in extra} == DISPLAY_ONLY
    alarmed_dims = {(namespace, dims) for namespace, _name, dims in alarmed}
    for namespace, name, dims in extra:
        assert (namespace, dims) in alarmed_dims, f"{namespace} {name} has dimensions no alarm has"


def test_the_graphs_an_operator_looks_for() -> None:
    body, _ = _body()
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Requests",
        "5xx answers",
        "4xx rate (percent of requests)",
        "Latency (seconds)",
        "Hosts",
        "CPU and memory (percent of reserved)",
        "Tasks: running vs desired",
        "Alarms",
    ]
    latency = [stats for (_, name, _), stats in drawn().items() if name == "TargetResponseTime"]
    assert latency == [{"p50", "p99"}] * 2  # production's canary: both target groups
    expressions = [
        line[0]["expression"]
        for w in body["widgets"]
        for line in w["properties"].get("metrics", [])
        if isinstance(line[0], dict)
    ]
    alarm_4xx = properties("Client4xxRateAlarm")["Metrics"]
    assert next(q["Expression"] for q in alarm_4xx if "Expression" in q) in expressions


def test_alarm_widget_shows_every_alarm_of_the_stack() -> None:
    body, variables = _body()
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = set()
    for arn in widget["properties"]["alarms"]:
        prefix, name = arn.rsplit(":alarm:", 1)
        assert prefix == "arn:${AWSPartition}:cloudwatch:${AWSRegion}:${AWSAccountId}"
        shown.add(_resolve(name, variables)["Ref"])
    assert shown == set(resources_of_type("AWS::CloudWatch::Alarm"))
    assert variables["AWSRegion"] == {"Ref": "AWS::Region"}


def test_widgets_do_not_overlap_on_the_grid() -> None:
    body, _ = _body()
    cells = set()
    for w in body["widgets"]:
        assert w["x"] + w["width"] <= 24
        area = {
            (x, y)
            for x in range(w["x"], w["x"] + w["width"])
            for y in range(w["y"], w["y"] + w["height"])
        }
        assert not cells & area
        cells |= area


def test_console_url_is_an_output() -> None:
    url = stack_template()["Outputs"]["DashboardUrl"]["Value"]["Fn::Join"][1]
    assert url[-1] == {"Ref": "Dashboard"}
    assert "#dashboards/dashboard/" in url
