"""Benchmark following a stack: how late the deployer reports the end, and how many calls it costs.

    .venv/bin/python bench/follow.py [--samples 2000] [--real 30] [--api-latency 0.1] [--seed 1]

The deployer's Follower (deployer/follow.py, through its public constructor and
until_settled()) follows one stack create on a fake CloudFormation client whose answers are
driven by a clock, so that the moment the stack settles is known exactly:
- DescribeStackEvents returns AWS-shaped events up to the clock's now, newest first and paged:
  the change set's REVIEW_IN_PROGRESS (older than the follow's start: never printed), the stack's
  CREATE_IN_PROGRESS, a few resources' IN_PROGRESS and CREATE_COMPLETE, and at the settle moment
  the stack's own CREATE_COMPLETE (ResourceType AWS::CloudFormation::Stack);
- DescribeStacks says CREATE_IN_PROGRESS until the settle moment, CREATE_COMPLETE from then on;
- DescribeStackResources and ListChangeSets answer minimally if asked; every call is recorded.
Each call takes --api-latency seconds (half before the state is read, half after), as AWS's do.

Figures, per mode:
- latency: from the settle moment to until_settled() returning (median, p90, max);
- CloudFormation calls a minute while following: the mean (all calls over all followed time)
  and the most seen in any 60 s window (windows that fit in one follow of at least 60 s).
Modes: virtual (Backoff's sleep advances a fake clock: thousands of samples, settle moments
uniform in [--settle-min, --settle-max]) and real (a few samples, settle moments of 20-60 s,
time.sleep, run side by side in threads), to show that the virtual figures hold on a real clock;
it also runs the virtual follows again over the real ones' settle range, to compare like with
like. The latency of one follow is spread over 0-3.5 s, so the median of a dozen real samples
swings by +-0.4 s from run to run: hence 30 by default (same wall time: they run together).
Targets: median latency <= 2 s; <= 30 CloudFormation calls a minute per stack followed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_MEDIAN_LATENCY = 2.0  # seconds
TARGET_CALLS_PER_MINUTE = 30
WINDOW = 60.0  # seconds
PAGE_SIZE = 100  # DescribeStackEvents' page, as AWS's
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/0a1b2c3d"
STACK_TYPE = "AWS::CloudFormation::Stack"
RESOURCES = (
    ("LogGroup", "AWS::Logs::LogGroup"),
    ("TaskDefinition", "AWS::ECS::TaskDefinition"),
    ("Service", "AWS::ECS::Service"),
)


class VirtualClock:
    """Seconds since the follow's start; sleeping only moves the hands."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += max(seconds, 0.0)


class RealClock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


Clock = VirtualClock | RealClock


@dataclass
class FakeCloudFormation:
    """One stack's create, as CloudFormation answers it at the clock's time."""

    clock: Clock
    settle_at: float
    api_latency: float
    base: datetime = field(default_factory=lambda: datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    calls: list[tuple[float, str]] = field(default_factory=list)  # (time, action)

    def __post_init__(self) -> None:
        self.timeline = self._timeline()

    def _timeline(self) -> list[tuple[float, dict[str, Any]]]:
        """(seconds from the start, event), oldest first; the last one at the settle moment."""
        events = [(-5.0, self._event("bench", STACK_TYPE, "REVIEW_IN_PROGRESS", STACK_ID))]
        events.append((0.0, self._event("bench", STACK_TYPE, "CREATE_IN_PROGRESS", STACK_ID)))
        step = self.settle_at / (2 * len(RESOURCES) + 1)
        for n, (logical_id, kind) in enumerate(RESOURCES):
            physical = f"{logical_id.lower()}-physical"
            begun, done = step * (2 * n + 0.5), step * (2 * n + 1.5)
            events.append((begun, self._event(logical_id, kind, "CREATE_IN_PROGRESS", "")))
            events.append((done, self._event(logical_id, kind, "CREATE_COMPLETE", physical)))
        events.append(
            (self.settle_at, self._event("bench", STACK_TYPE, "CREATE_COMPLETE", STACK_ID))
        )
        for at, event in events:
            event["Timestamp"] = self.base + timedelta(seconds=at)
        return events

    def _event(self, logical_id: str, kind: str, status: str, physical: str) -> dict[str, Any]:
        event = {
            "StackId": STACK_ID,
            "StackName": "bench",
            "EventId": f"{logical_id}-{status}",
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical,
            "ResourceType": kind,
            "ResourceStatus": status,
        }
        if status == "CREATE_IN_PROGRESS" and kind == STACK_TYPE:
            event["ResourceStatusReason"] = "User Initiated"
        return event

    def _call(self, action: str) -> float:
        """Record the call, spend half its latency; the time the state is read at."""
        self.calls.append((self.clock.now(), action))
        self.clock.sleep(self.api_latency / 2)
        return self.clock.now()

    def _done(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.clock.sleep(self.api_latency / 2)
        return answer

    # botocore's keyword names (StackName, NextToken), so the Follower's calls read the same

    def describe_stack_events(self, StackName: str, NextToken: str = "") -> dict[str, Any]:
        now = self._call("DescribeStackEvents")
        newest_first = [event for at, event in reversed(self.timeline) if at <= now]
        start = int(NextToken or 0)
        page: dict[str, Any] = {"StackEvents": newest_first[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(newest_first):
            page["NextToken"] = str(start + PAGE_SIZE)
        return self._done(page)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        now = self._call("DescribeStacks")
        status = "CREATE_COMPLETE" if now >= self.settle_at else "CREATE_IN_PROGRESS"
        stack = {
            "StackId": STACK_ID,
            "StackName": "bench",
            "CreationTime": self.base,
            "StackStatus": status,
        }
        return self._done({"Stacks": [stack]})

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        now = self._call("DescribeStackResources")
        done = {e["LogicalResourceId"]: e for at, e in self.timeline if at <= now}
        resources = [
            {
                "StackId": STACK_ID,
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": done[logical_id]["PhysicalResourceId"],
                "ResourceType": kind,
                "ResourceStatus": done[logical_id]["ResourceStatus"],
                "Timestamp": done[logical_id]["Timestamp"],
            }
            for logical_id, kind in RESOURCES
            if logical_id in done
        ]
        return self._done({"StackResources": resources})

    def list_change_sets(self, StackName: str, NextToken: str = "") -> dict[str, Any]:
        self._call("ListChangeSets")
        return self._done({"Summaries": []})

    def __getattr__(self, name: str) -> Any:
        # a call the Follower has started making: say which, rather than fail obscurely
        raise AttributeError(f"bench/follow.py's fake CloudFormation does not answer {name}")


@dataclass(frozen=True)
class Sample:
    settle_at: float
    returned_at: float
    final_status: str
    calls: list[tuple[float, str]]

    @property
    def latency(self) -> float:
        return self.returned_at - self.settle_at


def follow_once(clock: Clock, settle_at: float, api_latency: float) -> Sample:
    from deployer.follow import Follower

    cf = FakeCloudFormation(clock, settle_at, api_latency)
    backoff = make_backoff(clock)
    since = cf.base  # the change set's execution: what the deployer passes
    final = Follower(cf, STACK_ID, since, lambda _line: None, backoff).until_settled()
    return Sample(settle_at, clock.now(), final["StackStatus"], cf.calls)


def make_backoff(clock: Clock) -> Any:
    """Backoff with the clock's sleep, and its clock for deadlines where Backoff has one."""
    from deployer.poll import Backoff

    names = {f.name for f in fields(Backoff)}
    extra: dict[str, Any] = {"clock": clock.now} if "clock" in names else {}
    return Backoff(sleep=clock.sleep, **extra)


def run_virtual(count: int, low: float, high: float, api_latency: float) -> list[Sample]:
    return [
        follow_once(VirtualClock(), random.uniform(low, high), api_latency) for _ in range(count)
    ]


def run_real(count: int, low: float, high: float, api_latency: float) -> list[Sample]:
    """Side by side in threads: the wall time is the longest sample's, not the sum."""
    samples: list[Sample] = []
    lock = threading.Lock()
    settles = [random.uniform(low, high) for _ in range(count)]

    def one(settle_at: float) -> None:
        sample = follow_once(RealClock(), settle_at, api_latency)
        with lock:
            samples.append(sample)

    threads = [threading.Thread(target=one, args=(s,)) for s in settles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def busiest_window(calls: list[tuple[float, str]], end: float) -> int | None:
    """The most calls in any 60 s window that fits in the follow; None when it is shorter."""
    if end < WINDOW:
        return None
    times = sorted(at for at, _action in calls)
    most, first = 0, 0
    for last, at in enumerate(times):  # the window ending at each call, [at - 60 s, at]
        while times[first] < at - WINDOW:
            first += 1
        if at >= WINDOW:  # a window that starts before the follow does not fit in it
            most = max(most, last - first + 1)
    return most


@dataclass(frozen=True)
class Figures:
    samples: int
    median: float
    p90: float
    max: float
    mean_per_minute: float
    max_per_minute: int | None
    per_action: dict[str, float]  # calls a minute, by action
    wrong: int  # returned before the settle moment, or not with the final status


def figures(samples: list[Sample]) -> Figures:
    latencies = sorted(s.latency for s in samples)
    followed = sum(s.returned_at for s in samples)  # each follow starts at 0
    actions: Counter[str] = Counter(a for s in samples for _t, a in s.calls)
    windows = [w for s in samples if (w := busiest_window(s.calls, s.returned_at)) is not None]
    p90 = (  # inclusive: with a few samples, p90 stays within what was seen
        statistics.quantiles(latencies, n=10, method="inclusive")[8]
        if len(latencies) > 1
        else latencies[0]
    )
    return Figures(
        samples=len(samples),
        median=statistics.median(latencies),
        p90=p90,
        max=latencies[-1],
        mean_per_minute=actions.total() / followed * 60,
        max_per_minute=max(windows) if windows else None,
        per_action={a: n / followed * 60 for a, n in sorted(actions.items())},
        wrong=sum(s.latency < 0 or s.final_status != "CREATE_COMPLETE" for s in samples),
    )


def render(rows: list[tuple[str, str, Figures]]) -> str:
    header = (
        f"{'mode':<8} {'samples':>7} {'settles at':>12}  {'latency median':>14} {'p90':>6} "
        f"{'max':>6}  {'calls/min mean':>14} {'max 60 s':>8}"
    )
    lines = [header, "-" * len(header)]
    for mode, spread, f in rows:
        busiest = "-" if f.max_per_minute is None else str(f.max_per_minute)
        lines.append(
            f"{mode:<8} {f.samples:>7} {spread:>12}  {f.median:>12.2f} s {f.p90:>4.2f} s "
            f"{f.max:>4.2f} s  {f.mean_per_minute:>14.1f} {busiest:>8}"
        )
    for mode, spread, f in rows:
        by_action = ", ".join(f"{a} {n:.1f}" for a, n in f.per_action.items())
        lines.append(f"{mode} {spread}: calls/min by action: {by_action}")
        if f.wrong:
            lines.append(f"{mode} {spread}: {f.wrong} follow(s) ended early or not COMPLETE!")
    return "\n".join(lines)


def verdict(rows: list[tuple[str, str, Figures]]) -> str:
    lines = []
    for mode, spread, f in rows:
        # follows shorter than a minute have no full window: their mean rate stands in
        if f.max_per_minute is None:
            rate, what = f.mean_per_minute, "mean calls/min (no follow lasted 60 s)"
        else:
            rate, what = f.max_per_minute, "calls in the busiest 60 s"
        latency_ok = "meets" if f.median <= TARGET_MEDIAN_LATENCY else "MISSES"
        calls_ok = "meets" if rate <= TARGET_CALLS_PER_MINUTE else "MISSES"
        lines.append(
            f"{mode} {spread}: median latency {f.median:.2f} s {latency_ok} "
            f"<= {TARGET_MEDIAN_LATENCY:g} s; {what} {rate:.0f} {calls_ok} "
            f"<= {TARGET_CALLS_PER_MINUTE}"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000, help="virtual-time follows")
    parser.add_argument("--settle-min", type=float, default=5.0, help="seconds (virtual)")
    parser.add_argument("--settle-max", type=float, default=600.0, help="seconds (virtual)")
    parser.add_argument("--real", type=int, default=30, help="real-time follows (0: none)")
    parser.add_argument("--real-min", type=float, default=20.0, help="seconds (real)")
    parser.add_argument("--real-max", type=float, default=60.0, help="seconds (real)")
    parser.add_argument("--api-latency", type=float, default=0.1, help="seconds per call")
    parser.add_argument("--seed", type=int, default=1, help="settle moments and jitter")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    random.seed(args.seed)  # the settle moments, and the Backoff's jitter (module random)
    print(f"$ {Path(sys.executable).name} bench/follow.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"API latency {args.api_latency:g} s per call; seed {args.seed}")
    rows = []
    virtual = run_virtual(args.samples, args.settle_min, args.settle_max, args.api_latency)
    rows.append(("virtual", f"{args.settle_min:g}-{args.settle_max:g} s", figures(virtual)))
    if args.real:
        print(f"real time: {args.real} follows of {args.real_min:g}-{args.real_max:g} s ...")
        spread = f"{args.real_min:g}-{args.real_max:g} s"
        # the same settle range in virtual time: what the real samples are to be compared with
        alike = run_virtual(args.samples, args.real_min, args.real_max, args.api_latency)
        rows.append(("virtual", spread, figures(alike)))
        real = run_real(args.real, args.real_min, args.real_max, args.api_latency)
        rows.append(("real", spread, figures(real)))
    print(render(rows))
    print(verdict(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
