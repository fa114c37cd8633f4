"""The smoke check: after the deploy, GET https://<domain>/_health until it answers 200 with
the version just deployed, or the deadline passes.

CloudFormation reports the service stack complete once ECS has reached a steady state, but
the load balancer still drains the old tasks for a while (deregistration delay): an answer
from the old version is waited out, not a failure, until the deadline. /_health answers
{"status": "ok", "version": <the image's revision>, "uptime": ...} (service/health.py).

Where AWS itself is emulated (an endpoint that is not AWS's), the domain names nothing that
serves: the check says so in one line instead of waiting for its deadline.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from deployer.poll import Backoff, Deadline
from service.contract import HEALTH_PATH

URL_OUTPUT = "Url"  # the service stack's Output: where the service answers (templates/edge.py)
REQUEST_TIMEOUT = 5.0  # seconds for one GET: a healthy /_health answers in milliseconds
BACKOFF = Backoff(first=1.0, cap=5.0)
# The hosts of AWS's own endpoints (regional, FIPS, dual-stack, VPC endpoints, China).
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all
    version: str | None  # the body's "version", None when not JSON or absent
    error: str = ""  # why there was no (readable) answer

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        if self.version is None:
            return f"HTTP {self.status}" + (f" ({self.error})" if self.error else "")
        return f"HTTP {self.status} with version {self.version}"


@dataclass(frozen=True)
class Smoke:
    url: str
    expected: str
    passed: bool
    attempts: int = 0
    last: Answer | None = None
    not_run: str = ""  # why the check could not run, "" when it did

    def line(self) -> str:
        if self.not_run:
            return f"smoke: not run: {self.not_run}"
        if self.passed:
            return f"smoke: {self.url} answers version {self.expected} (after {self.attempts} GET)"
        last = self.last.describe() if self.last else "nothing"
        return (
            f"smoke: FAILED: {self.url} did not answer 200 with version {self.expected}; "
            f"the last answer: {last}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def health_url(service_url: str, health_path: str | None = None) -> str:
    """`health_path` under the service's route ("https://host/api" + "/_health"); without
    one, the app's own health path at the root of `service_url`."""
    if health_path is not None:
        return service_url.rstrip("/") + "/" + health_path.lstrip("/")
    return urljoin(service_url if service_url.endswith("/") else service_url + "/", HEALTH_PATH)


def emulated(endpoint_url: str) -> bool:
    """The endpoint the deployer reached AWS through is not AWS's own."""
    host = (urlsplit(endpoint_url).hostname or "").lower()
    return not host.endswith(AWS_HOST_SUFFIXES)


def probe(
    url: str, timeout: float = REQUEST_TIMEOUT, headers: dict[str, str] | None = None
) -> Answer:
    """One GET (with `headers`, e.g. the test listener rule's): its status and the version in
    its body."""
    request = urllib.request.Request(url, headers={"Cache-Control": "no-cache", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _answer(response.status, response.read(4096))
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.read(4096))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Answer(None, None, str(reason))


def _answer(status: int, body: bytes) -> Answer:
    try:
        data = json.loads(body)
    except ValueError:
        return Answer(status, None, "not JSON")
    version = data.get("version") if isinstance(data, dict) else None
    return Answer(status, str(version) if version is not None else None)


def check(
    url: str,
    version: str,
    deadline: Deadline,
    say: Callable[[str], None],
    backoff: Backoff = BACKOFF,
    timeout: float = REQUEST_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Smoke:
    """GET `url` (sending `headers`) until it answers 200 with `version`, or `deadline`
    passes. Each different answer on the way is said once (the old version still answering,
    a 503...)."""
    delays = backoff.delays()
    attempts, last = 0, None
    while True:
        answer = probe(url, timeout, headers)
        attempts += 1
        if answer.status == 200 and answer.version == version:
            return Smoke(url, version, True, attempts, answer)
        if answer != last:
            say(f"  smoke: {url}: {answer.describe()}; waiting for version {version}")
        last = answer
        if deadline.passed():
            return Smoke(url, version, False, attempts, last)
        backoff.sleep(min(next(delays), max(0.0, deadline.at - deadline.clock())))


def smoke(
    service_url: str | None,
    version: str,
    endpoint_url: str,
    seconds: float,
    say: Callable[[str], None],
    health_path: str | None = None,
) -> Smoke:
    """The smoke check of a deployed service stack, or why it cannot run."""
    if service_url is None:
        return Smoke("", version, False, not_run=f"the stack has no {URL_OUTPUT} output")
    url = health_url(service_url, health_path)
    if emulated(endpoint_url):
        return Smoke(
            url,
            version,
            False,
            not_run=f"AWS is emulated at {endpoint_url}: its load balancer serves nothing, "
            f"so {url} cannot be reached",
        )
    return check(url, version, BACKOFF.deadline(seconds), say)
