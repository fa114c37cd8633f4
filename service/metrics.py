"""CloudWatch Embedded Metric Format (EMF): metrics as JSON log lines, no agent needed.

CloudWatch Logs turns any line carrying an `_aws.CloudWatchMetrics` block into metric data
points. The request metrics ride on the access-log line itself (EMF keeps the other fields as
ordinary log properties), so a request costs one line, not two: half the writes and half the
ingested bytes of a separate metrics line.

Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

from typing import Any

from service.contract import METRICS_NAMESPACE

# Dimensions: bounded by construction. Route is the route's template ("/", "/static"), never
# the raw path, and UNMATCHED_ROUTE for anything no route matched (scanners, typos).
DIMENSIONS = ("Service", "Route")
UNMATCHED_ROUTE = "unmatched"
REQUESTS = "Requests"
LATENCY = "Latency"
SERVER_ERRORS = "ServerErrors"
_METRICS = (
    {"Name": REQUESTS, "Unit": "Count"},
    {"Name": LATENCY, "Unit": "Milliseconds"},
    {"Name": SERVER_ERRORS, "Unit": "Count"},
)


class RequestMetrics:
    """Builds the EMF fields of one request; the directive is shared by every line."""

    def __init__(self, service_name: str, namespace: str = METRICS_NAMESPACE) -> None:
        self.service_name = service_name
        self._directive = [
            {
                "Namespace": namespace,
                "Dimensions": [list(DIMENSIONS)],
                "Metrics": [dict(metric) for metric in _METRICS],
            }
        ]

    def fields(
        self, route: str, status: int, latency_ms: float, timestamp_ms: int
    ) -> dict[str, Any]:
        return {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": self._directive},
            "Service": self.service_name,
            "Route": route,
            REQUESTS: 1,
            LATENCY: latency_ms,
            SERVER_ERRORS: 1 if status >= 500 else 0,
        }
