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
import http.client
import random
import signal
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

# Decides, for the n-th CloudFormation call (n from 1, in arrival order), whether to throttle it.
Policy = Callable[[int], bool]

CLOUDFORMATION_SCOPE = "/cloudformation/aws4_request"
THROTTLING_BODY = (
    '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
# Headers about this one connection, not the message: never passed on (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def every(n: int) -> Policy:
    """Throttle every n-th call (every(2): the 2nd, 4th, ...); every(0) throttles nothing.
    With n=2 each retried call gets through on its retry, and the next new call is refused."""
    return lambda call: n > 0 and call % n == 0


def randomly(rate: float, seed: int = 0) -> Policy:
    """Throttle each call with probability `rate`, from a seeded generator: the same seed and
    the same order of calls throttle the same calls."""
    generator = random.Random(seed)
    return lambda _call: generator.random() < rate


def is_cloudformation(authorization: str) -> bool:
    """SigV4's Authorization header names the service in its credential scope:
    Credential=AKID/20240101/us-east-1/cloudformation/aws4_request, SignedHeaders=..."""
    return CLOUDFORMATION_SCOPE in authorization


def action_of(body: bytes) -> str:
    """The query protocol's action (Action=DescribeStacks&...), or "?" when there is none."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return form.get("Action", ["?"])[0]


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


class _Handler(BaseHTTPRequestHandler):
    """Relays one request at a time on a kept-alive connection, as botocore's pool expects."""

    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries its Content-Length
    server: _Server

    def do_GET(self) -> None:
        self._relay()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _relay(self) -> None:
        body = self._read_body()
        if is_cloudformation(self.headers.get("Authorization", "")):
            action = action_of(body)
            if self.server.tally.decide(action):
                self.server.log(f"throttled {action}")
                self._send(400, [("Content-Type", "text/xml")], _throttling_body())
                return
            self.server.log(f"forwarded {action}")
        try:
            status, headers, answer = self._forward(body)
        except (OSError, http.client.HTTPException) as error:  # say so rather than hang up
            message = f"throttle proxy: upstream {self.server.upstream} failed: {error}\n"
            self._send(502, [("Content-Type", "text/plain")], message.encode())
            return
        self._send(status, headers, answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(parts)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """The same method, path, headers (Host included: what the client signed, and what
        moto builds URLs from) and body, to the upstream; its status, headers and body."""
        host, port = self.server.upstream_address
        connection = http.client.HTTPConnection(host, port, timeout=120)
        try:
            connection.putrequest(
                self.command, self.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, headers, answer
        finally:
            connection.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in {"content-length", "server", "date"}:
                self.send_header(name, value)
        # HEAD: the length the GET would have had, and no body
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        self.send_header(
            "Content-Length", length if self.command == "HEAD" and length else str(len(body))
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the access log would bury what matters: what was throttled


def _throttling_body() -> bytes:
    return THROTTLING_BODY.format(request_id=uuid.uuid4()).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps its connection open must not block shutdown
    block_on_close = False

    def __init__(self, port: int, upstream: str, tally: Tally, log: Callable[[str], None]):
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        parts = urlsplit(upstream)
        self.upstream_address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.tally = tally
        self.log = log


def _silent(_line: str) -> None:
    pass


class ThrottleProxy:
    """The proxy on 127.0.0.1 (port 0: a free one), serving from a thread while in `with`."""

    def __init__(
        self,
        upstream: str,
        policy: Policy,
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.tally = Tally(policy)
        self._server = _Server(port, upstream.rstrip("/"), self.tally, log or _silent)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="throttle-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def throttled_total(self) -> int:
        return self.tally.snapshot()[1].total()

    def __enter__(self) -> ThrottleProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


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
