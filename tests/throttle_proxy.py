"""An HTTP proxy in front of moto's server that throttles CloudFormation calls as AWS does.

moto never throttles (see ../shared/EMULATOR.md), so a deploy against it never meets
CloudFormation's "Rate exceeded". This proxy forwards every request to the upstream emulator
and relays its answer, except that a chosen share of CloudFormation calls is answered, without
forwarding, with AWS's throttling error: HTTP 400, the query protocol's XML error, code
Throttling. A CloudFormation call is one whose SigV4 credential scope ends in
/cloudformation/aws4_request; its action is read from the form body (Action=...).

From a test:

    with ThrottleProxy(moto_endpoint, every(2)) as proxy:
        env["AWS_ENDPOINT_URL"] = proxy.url
        ...
        assert proxy.throttled_total() >= 10

From a shell (Ctrl-C or SIGTERM stops it and prints the calls per action):

    python tests/throttle_proxy.py --upstream http://127.0.0.1:5050 --port 6000 --every 2
    AWS_ENDPOINT_URL=http://127.0.0.1:6000 make deploy YES=1

Stdlib only: it must run wherever moto does, with nothing else installed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too
from local_proxy import CLOUDFORMATION_ERROR, Relay, Reply, Request

# Decides, for the n-th CloudFormation call (n from 1, in arrival order), whether to throttle it.
Policy = Callable[[int], bool]


def every(n: int) -> Policy:
    """Throttle every n-th call (every(2): the 2nd, 4th, ...); every(0) throttles nothing.
    With n=2 each retried call gets through on its retry, and the next new call is refused."""
    return lambda call: n > 0 and call % n == 0


def randomly(rate: float, seed: int = 0) -> Policy:
    """Throttle each call with probability `rate`, from a seeded generator: the same seed and
    the same order of calls throttle the same calls."""
    generator = random.Random(seed)
    return lambda _call: generator.random() < rate


class Tally:
    """Forwarded and throttled CloudFormation calls per action; safe across handler threads,
    and the one place the policy is asked, so that its sequence of calls is well defined."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.forwarded: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    def decide(self, action: str) -> bool:
        """Count this call; True when it is to be answered with a throttling error."""
        with self._lock:
            self.calls += 1
            throttle = self.policy(self.calls)
            (self.throttled if throttle else self.forwarded)[action] += 1
            return throttle

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.forwarded), Counter(self.throttled)

    def render(self) -> str:
        forwarded, throttled = self.snapshot()
        actions = sorted(set(forwarded) | set(throttled))
        lines = [f"{'CloudFormation action':<28} {'forwarded':>9} {'throttled':>9}"]
        lines += [f"{a:<28} {forwarded[a]:>9} {throttled[a]:>9}" for a in actions]
        lines.append(f"{'total':<28} {forwarded.total():>9} {throttled.total():>9}")
        return "\n".join(lines)


def _throttling_reply() -> Reply:
    body = CLOUDFORMATION_ERROR.format(
        code="Throttling", message="Rate exceeded", request_id=uuid.uuid4()
    )
    return Reply(400, body.encode(), [("Content-Type", "text/xml")])


def _silent(_line: str) -> None:
    pass


class ThrottleProxy(Relay):
    """The proxy on 127.0.0.1 (port 0: a free one), serving from a thread while in `with`."""

    def __init__(
        self,
        upstream: str,
        policy: Policy,
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.tally = Tally(policy)
        self._log = log or _silent
        super().__init__(upstream, self._intercept, port, name="throttle-proxy")

    def _intercept(self, request: Request) -> Reply | None:
        if not request.is_cloudformation:
            return None
        action = request.action()
        if self.tally.decide(action):
            self._log(f"throttled {action}")
            return _throttling_reply()
        self._log(f"forwarded {action}")
        return None

    def throttled_total(self) -> int:
        return self.tally.snapshot()[1].total()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--upstream", required=True, help="the emulator, e.g. http://127.0.0.1:5050"
    )
    parser.add_argument("--port", type=int, default=6000, help="where to listen on 127.0.0.1")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--every", type=int, help="throttle every N-th CloudFormation call")
    chosen.add_argument("--rate", type=float, help="throttle this share of calls, at random")
    parser.add_argument("--seed", type=int, default=0, help="the random generator's (--rate)")
    parser.add_argument("--quiet", action="store_true", help="no line per CloudFormation call")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    policy = (
        randomly(args.rate, args.seed)
        if args.rate is not None
        else every(2 if args.every is None else args.every)
    )

    def log(line: str) -> None:
        print(f"[throttle-proxy] {line}", file=sys.stderr, flush=True)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # either way: the table, not a traceback
        signal.signal(signum, lambda *_: done.set())
    with ThrottleProxy(args.upstream, policy, args.port, None if args.quiet else log) as proxy:
        log(f"listening on {proxy.url}, forwarding to {args.upstream}")
        while not done.wait(0.5):  # a timed wait: the signal handlers run in between
            pass
    print(proxy.tally.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
