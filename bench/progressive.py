"""Benchmark following a canary deployment: how soon the deployer decides at the pause, and
how many ECS calls a minute the following costs.

    .venv/bin/python bench/progressive.py [--pause-at 20] [--runs 3] [--bake 30]

The deployer's CanaryWatch (deployer/canary.py, its real poll interval) follows a scripted
canary on a fake ECS client (moto runs no ECS service deployment) whose states are driven by
the real clock, from the canary's start:
  PENDING (0-2 s), SCALE_UP (2 s-), TEST_TRAFFIC_SHIFT (pause-at - 5 s), then the PAUSE hook
  AWAITING_ACTION from --pause-at seconds until ContinueServiceDeployment answers; then
  PRODUCTION_TRAFFIC_SHIFT (5 s), BAKE_TIME (--bake s), SUCCESSFUL.
The watch is polled at the follower's pace (deployer.poll's following backoff: 1 s, up to
3 s), as deployer/run.py's follow does. At the pause the real gate runs: the smoke check GETs
a local HTTP server on 127.0.0.1 with the test header (it answers 200 with the new version
only with it), and the alarms check reads a fake CloudWatch answering OK.

Figures, per run and over all runs:
- from the canary's start to the CONTINUE call, and from the pause to it;
- ECS calls a minute over the whole follow (every call the fake answered, stopped tasks too).
Target: under 30 ECS calls a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_ecs import SERVICE_ARN, FakeEcs, step  # noqa: E402

from deployer import canary, gate  # noqa: E402
from deployer.poll import Backoff  # noqa: E402
from manifest import Image, Progressive, ServiceSpec  # noqa: E402

HEADER, VALUE = "X-Canary", "bench"


class Clocked(FakeEcs):
    """The scripted canary, its stage chosen by the seconds since `start`."""

    def __init__(self, pause_at: float, bake: float) -> None:
        super().__init__([])
        self.start = time.monotonic()
        self.pause_at, self.bake = pause_at, bake
        self.continued: float | None = None
        self.paused_seen: float | None = None

    def current(self) -> dict[str, Any]:
        now = time.monotonic() - self.start
        if self.continued is None:
            if now < 2:
                return step("PENDING", running=0)
            if now < self.pause_at - 5:
                return step("IN_PROGRESS", "SCALE_UP", running=1 if now < 6 else 2)
            if now < self.pause_at:
                return step("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", test=100.0)
            return step(
                "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", test=100.0, hook="AWAITING_ACTION"
            )
        since = time.monotonic() - self.continued
        if since < 5:
            return step("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", production=10.0, test=100.0)
        if since < 5 + self.bake:
            return step("IN_PROGRESS", "BAKE_TIME", production=100.0, test=100.0)
        return step("SUCCESSFUL", "CLEAN_UP", production=100.0, test=100.0)

    def describe_service_deployments(self, **request: Any) -> dict[str, Any]:
        self._record("DescribeServiceDeployments", request)
        return {"serviceDeployments": [self.current()], "failures": []}

    def continue_service_deployment(self, **request: Any) -> dict[str, Any]:
        self._record("ContinueServiceDeployment", request)
        self.answers.append(request)
        self.continued = time.monotonic()
        return {"serviceDeploymentArn": request["serviceDeploymentArn"]}


class Quiet:
    """CloudWatch's DescribeAlarms: the stack's one alarm, OK."""

    def describe_alarms(self, **request: Any) -> dict[str, Any]:
        names = request.get("AlarmNames", [])
        return {"MetricAlarms": [{"AlarmName": n, "StateValue": "OK"} for n in names]}


class NewRevision(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.headers.get(HEADER) == VALUE
        self.send_response(200 if ok else 404)
        self.end_headers()
        if ok:
            self.wfile.write(json.dumps({"status": "ok", "version": "v2"}).encode())

    def log_message(self, *_args: Any) -> None:
        pass


def one(pause_at: float, bake: float, url: str) -> dict[str, float]:
    ecs = Clocked(pause_at, bake)
    service = ServiceSpec(
        "web",
        "svc-web",
        Image("r", "v2"),
        url,
        "/_health",
        Progressive("canary", HEADER, VALUE, 30),
    )

    def checks(_d: Any, hook: Any) -> list[canary.Check]:
        tested = gate.smoke_check(service, "v2", gate.seconds_until(hook, 60), lambda _l: None)
        return [tested, gate.alarms_check(Quiet(), {"Target5xxAlarm": "web-5xx"})]

    watch = canary.CanaryWatch(
        lambda: ecs, lambda: SERVICE_ARN, datetime(2026, 1, 1, tzinfo=UTC), lambda _l: None,
        "bench", "web", checks, [],
    )  # fmt: skip
    delays = Backoff().following().delays()
    while watch.last is None or not watch.last.ended():
        watch.poll()
        time.sleep(next(delays))
    ended = time.monotonic()
    assert ecs.continued is not None and ecs.answers[0]["action"] == "CONTINUE"
    return {
        "to_continue": ecs.continued - ecs.start,
        "after_pause": ecs.continued - ecs.start - pause_at,
        "calls_a_minute": len(ecs.calls) / ((ended - ecs.start) / 60),
        "calls": len(ecs.calls),
        "seconds": ended - ecs.start,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause-at", type=float, default=20.0)
    parser.add_argument("--bake", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), NewRevision)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(
        f"canary on a fake ECS, real clock: pause at {args.pause_at:g} s, bake {args.bake:g} s; "
        f"watch interval {canary.INTERVAL:g} s; {args.runs} runs side by side"
    )
    results: list[dict[str, float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(one(args.pause_at, args.bake, url)))
        for _ in range(args.runs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.shutdown()
    for r in results:
        print(
            f"  start -> CONTINUE {r['to_continue']:.1f} s (pause -> CONTINUE "
            f"{r['after_pause']:.1f} s); {r['calls']:.0f} ECS calls in {r['seconds']:.0f} s: "
            f"{r['calls_a_minute']:.1f} a minute"
        )
    worst = max(r["calls_a_minute"] for r in results)
    print(
        f"median start -> CONTINUE {statistics.median(r['to_continue'] for r in results):.1f} s; "
        f"pause -> CONTINUE max {max(r['after_pause'] for r in results):.1f} s; "
        f"ECS calls a minute max {worst:.1f} (target under 30)"
    )
    return 0 if worst < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
