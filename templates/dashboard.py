"""The service's CloudWatch dashboard: traffic, errors, latency, hosts, CPU and memory, tasks,
and the alarms' states, on one page. Its console URL is an output (`make status` shows it).

Every graph draws monitoring.py's Metric objects, the ones the alarms are built from, so a
graph cannot point at a metric or dimension that does not exist. DashboardBody is JSON text:
it is built as data and serialized once, each Ref or GetAtt in it becoming a Fn::Sub variable.
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import (
    AccountId,
    AWSHelperFn,
    Join,
    Output,
    Partition,
    Region,
    StackName,
    Sub,
    Template,
    cloudwatch,
)

from templates.monitoring import (
    CLIENT_4XX_LABEL,
    CLIENT_4XX_PERCENT,
    PERIOD_SECONDS,
    LoadBalancerMetrics,
    Metric,
    ServiceMetrics,
)

DASHBOARD_URL_OUTPUT = "DashboardUrl"  # deployer/service_status.py reads it
WIDTH, HEIGHT = 12, 6  # two graphs a row, on CloudWatch's 24-column grid


def _line(metric: Metric, stat: str, **options: Any) -> list[Any]:
    """One metric of a graph: [namespace, name, dimension, value, ..., {options}]."""
    flat: list[Any] = [metric.namespace, metric.name]
    for name, value in metric.dimensions:
        flat += [name, value]
    return [*flat, {"stat": stat, **options}]


def _hidden(metric: Metric, id_: str) -> list[Any]:
    """An input of a metric-math expression, not drawn itself."""
    return _line(metric, "Sum", id=id_, visible=False)


def _expression(id_: str, label: str, expression: str) -> list[Any]:
    return [{"expression": expression, "label": label, "id": id_}]


def _graph(title: str, metrics: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": Region,
            "period": PERIOD_SECONDS,
            "view": "timeSeries",
            "metrics": metrics,
            **extra,
        },
    }


def _labelled(title: str, *drawn: tuple[Metric, str, str]) -> dict[str, Any]:
    """A graph of metrics side by side: (metric, statistic, label) each."""
    return _graph(title, [_line(metric, stat, label=label) for metric, stat, label in drawn])


def _percent(id_: str, label: str, used: Metric, reserved: Metric) -> list[list[Any]]:
    return [
        _line(used, "Average", id=f"{id_}used", visible=False),
        _line(reserved, "Average", id=f"{id_}reserved", visible=False),
        _expression(id_, label, f"100 * {id_}used / {id_}reserved"),
    ]


def _alarm_arn(alarm: cloudwatch.Alarm) -> Join:
    """The alarm's ARN from its name (Ref): the emulator, which creates no alarms, can still
    resolve a Ref to one, not a GetAtt."""
    return Join(":", ["arn", Partition, "cloudwatch", Region, AccountId, "alarm", alarm.ref()])


def _other_group(
    alternate: LoadBalancerMetrics | None, *drawn: tuple[str, str, str]
) -> tuple[tuple[Metric, str, str], ...]:
    """A progressive service's second target group, drawn beside the first: (metric's field in
    LoadBalancerMetrics, statistic, label) each; nothing for a rolling service."""
    if alternate is None:
        return ()
    return tuple((getattr(alternate, field), stat, label) for field, stat, label in drawn)


def widgets(
    lb: LoadBalancerMetrics,
    service: ServiceMetrics,
    alarms: tuple[cloudwatch.Alarm, ...],
    alternate: LoadBalancerMetrics | None = None,
) -> list[dict[str, Any]]:
    """`alternate`: a progressive service's second target group's metrics (the alarms watch
    both groups; templates/monitoring.py)."""
    graphs = [
        _graph("Requests", [_line(lb.requests, "Sum")]),
        _labelled(
            "5xx answers",
            (lb.elb_5xx, "Sum", "load balancer"),
            (lb.target_5xx, "Sum", "tasks"),
            *_other_group(alternate, ("target_5xx", "Sum", "tasks, alternate group")),
        ),
        _graph(
            "4xx rate (percent of requests)",
            [
                _hidden(lb.target_4xx, "target4xx"),
                _hidden(lb.elb_4xx, "elb4xx"),
                _hidden(lb.requests, "requests"),
                _expression("rate", CLIENT_4XX_LABEL, CLIENT_4XX_PERCENT),
            ],
        ),
        _labelled(
            "Latency (seconds)",
            (lb.response_time, "p50", "p50"),
            (lb.response_time, "p99", "p99"),
            *_other_group(
                alternate,
                ("response_time", "p50", "p50, alternate group"),
                ("response_time", "p99", "p99, alternate group"),
            ),
        ),
        _labelled(
            "Hosts",
            (lb.healthy_hosts, "Minimum", "healthy"),
            (lb.unhealthy_hosts, "Maximum", "unhealthy"),
            *_other_group(
                alternate,
                ("healthy_hosts", "Minimum", "healthy, alternate group"),
                ("unhealthy_hosts", "Maximum", "unhealthy, alternate group"),
            ),
        ),
        _graph(
            "CPU and memory (percent of reserved)",
            [
                *_percent("cpu", "CPU", service.cpu_utilized, service.cpu_reserved),
                *_percent("memory", "memory", service.memory_utilized, service.memory_reserved),
            ],
        ),
        _labelled(
            "Tasks: running vs desired",
            (service.running_tasks, "Average", "running"),
            (service.desired_tasks, "Average", "desired"),
        ),
    ]
    status = {
        "type": "alarm",
        "properties": {
            "title": "Alarms",
            "alarms": [_alarm_arn(alarm) for alarm in alarms],
        },
    }
    placed = []
    for number, widget in enumerate([*graphs, status]):
        x, y = (number % 2) * WIDTH, (number // 2) * HEIGHT
        placed.append({**widget, "x": x, "y": y, "width": WIDTH, "height": HEIGHT})
    return placed


def body(data: Any) -> Sub:
    """`data` as JSON text, each Ref or GetAtt in it a Fn::Sub variable named after it (a
    Join's parts joined in the text)."""
    variables: dict[str, AWSHelperFn] = {}

    def variable(helper: AWSHelperFn) -> str:
        name = "".join(ch for ch in "".join(_names(helper.to_dict())) if ch.isalnum())
        assert variables.get(name, helper).to_dict() == helper.to_dict(), name
        variables[name] = helper
        return "${" + name + "}"

    def walk(node: Any) -> Any:
        if isinstance(node, Join):  # joined into the text, each part a variable or itself
            delimiter, parts = node.data["Fn::Join"]
            return delimiter.join(str(walk(part)) for part in parts)
        if isinstance(node, AWSHelperFn):
            return variable(node)
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    text = json.dumps({"widgets": walk(data)}, separators=(",", ":"))
    return Sub(text, **variables)


def _names(node: Any) -> list[str]:
    """The strings inside an intrinsic function, in order: its resource and attribute names
    (a Ref to AWS::Region gives "AWSRegion", GetAtt LoadBalancer.DNSName "LoadBalancerDNSName")."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [name for value in node.values() for name in _names(value)]
    if isinstance(node, list):
        return [name for item in node for name in _names(item)]
    return []


def add_dashboard(
    template: Template,
    lb: LoadBalancerMetrics,
    service: ServiceMetrics,
    alarms: tuple[cloudwatch.Alarm, ...],
    alternate: LoadBalancerMetrics | None = None,
) -> cloudwatch.Dashboard:
    dashboard = template.add_resource(
        cloudwatch.Dashboard(
            "Dashboard",
            # Named after the stack, as the other names CloudFormation gives: the ci stack's
            # CloudFormation role may manage only dashboards of this app's stacks.
            DashboardName=StackName,
            DashboardBody=body(widgets(lb, service, alarms, alternate)),
        )
    )
    template.add_output(
        Output(
            DASHBOARD_URL_OUTPUT,
            Description="The service's CloudWatch dashboard",
            Value=Join(
                "",
                [
                    "https://",
                    Region,
                    ".console.aws.amazon.com/cloudwatch/home?region=",
                    Region,
                    "#dashboards/dashboard/",
                    dashboard.ref(),
                ],
            ),
        )
    )
    return dashboard
