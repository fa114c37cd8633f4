"""Benchmark what drift detection adds to a plan (deployer/drift.py).

    .venv/bin/python bench/drift.py [--samples 50]

- moto over HTTP: the time of drift.start on a created stack, which moto answers with an
  HTTP 500 (the plan's one "drift not checked" line): what every stack's plan pays locally.
- A detection that takes D seconds on AWS (a fake client on a virtual clock, Backoff's own
  delays): how late collect() sees it finish after it does, and how many
  DescribeStackDriftDetectionStatus calls it makes, for D = 2, 10, 30 and 120 s. The plan
  starts detection before creating the change set, so only what is left of D once the change
  set is computed is added to the plan.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deployer import drift
from deployer.poll import Backoff


def on_moto(samples: int) -> list[float]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.disable(logging.CRITICAL)  # moto logs each 500's traceback
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        cf = boto3.client(
            "cloudformation",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
        stack_id = cf.create_stack(StackName="bench-drift", TemplateBody=body)["StackId"]
        timings = []
        for _ in range(samples):
            start = time.perf_counter()
            found = drift.start(cf, stack_id)
            timings.append(time.perf_counter() - start)
            assert isinstance(found, drift.Drift) and not found.checked
        return timings
    finally:
        server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SlowDetection:
    """DescribeStackDriftDetectionStatus answers IN_PROGRESS until `takes` seconds passed."""

    def __init__(self, clock: Clock, takes: float) -> None:
        self.clock, self.takes, self.calls = clock, takes, 0

    def describe_stack_drift_detection_status(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        done = self.clock.now >= self.takes
        return {"DetectionStatus": "DETECTION_COMPLETE" if done else "DETECTION_IN_PROGRESS"}

    def describe_stack_resource_drifts(self, **_: Any) -> dict[str, Any]:
        return {"StackResourceDrifts": []}


def on_aws(takes: float, samples: int) -> tuple[list[float], list[int]]:
    late, calls = [], []
    for _ in range(samples):
        clock = Clock()
        client = SlowDetection(clock, takes)
        backoff = Backoff(sleep=clock.sleep, clock=lambda c=clock: c.now)
        drift.collect(client, "id", "stack", backoff, backoff.deadline(300))
        late.append(clock.now - takes)
        calls.append(client.calls)
    return late, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    timings = on_moto(args.samples)
    print(
        f"moto: drift.start (HTTP 500, one line) median {statistics.median(timings) * 1000:.1f} ms,"
        f" max {max(timings) * 1000:.1f} ms over {len(timings)} calls"
    )
    for takes in (2.0, 10.0, 30.0, 120.0):
        late, calls = on_aws(takes, args.samples)
        print(
            f"AWS-like detection of {takes:g} s: seen {statistics.median(late):.2f} s late "
            f"(median; max {max(late):.2f} s), {statistics.median(calls):g} status calls"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
