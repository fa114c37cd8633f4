"""`make logs`: the service's CloudWatch Logs, the request lines readable.

The log groups are the service stack's `AWS::Logs::LogGroup` resources (their physical names,
from DescribeStackResources). What was logged since `--since` is read with FilterLogEvents,
page by page; `--follow` keeps tailing: with StartLiveTail (events pushed as they arrive)
where the endpoint offers it, else by polling FilterLogEvents from the last event seen (an
emulator without live tail; it says so once).

The app logs one JSON object per line (`service/jsonlog.py`, `service/access.py`): a request
line reads `time method path status duration`, any other line `time level logger: message`;
a line that is not JSON is shown as it is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
SINCE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
POLL_SECONDS = 2.0  # FilterLogEvents' quota is 5 requests a second per account and region
LIVE_TAIL_ABSENT = {"UnknownOperationException", "InvalidAction", "NotImplemented", "404"}


class LogsError(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    group: str
    stream: str
    timestamp: int  # milliseconds since the epoch
    message: str
    event_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "stream": self.stream,
            "timestamp": self.timestamp,
            "message": self.message,
            "fields": fields_of(self.message),
        }


def since_seconds(text: str) -> int:
    """`10m`, `2h`, `30s`, `1d` in seconds; anything else is refused with the forms taken."""
    found = SINCE.match(text.strip())
    if not found:
        raise LogsError(
            f"SINCE={text} is not a duration: give a number and a unit, s, m, h or d "
            "(SINCE=10m, SINCE=2h)"
        )
    return int(found.group(1)) * UNITS[found.group(2)]


def log_groups(template: dict[str, Any], physical: dict[str, str]) -> list[str]:
    """The names of the stack's log groups, in the template's order."""
    return [
        physical[logical]
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == LOG_GROUP_TYPE and logical in physical
    ]


def fields_of(message: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def render(event: Event) -> str:
    """One readable line: a request's method, path, status and duration; a log record's level,
    logger and message; anything else as it was logged."""
    fields = fields_of(event.message)
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.timestamp / 1000))
    if fields is None:
        return f"{when}Z {event.message.rstrip()}"
    when = str(fields.get("time", f"{when}Z"))
    if fields.get("message") == "request" and "path" in fields:
        duration = fields.get("duration_ms")
        took = f" {duration:g} ms" if isinstance(duration, int | float) else ""
        return (
            f"{when} {fields.get('method', '?')} {fields['path']} {fields.get('status', '?')}{took}"
        )
    line = f"{when} {fields.get('level', '')} {fields.get('logger', '')}: {fields.get('message')}"
    if fields.get("exception"):
        line += "\n" + str(fields["exception"])
    return line


def filtered(logs: Any, groups: list[str], start_ms: int) -> Iterator[Event]:
    """Every event of the groups from start_ms on, oldest first within each page."""
    for group in groups:
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        while True:
            page = logs.filter_log_events(**kwargs)
            for found in page.get("events", []):
                yield Event(
                    group,
                    found.get("logStreamName", ""),
                    found["timestamp"],
                    found.get("message", ""),
                    found.get("eventId", ""),
                )
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token


def show(
    logs: Any,
    groups: list[str],
    since: int,
    say: Callable[[str], None],
    now: Callable[[], float] = time.time,
) -> list[Event]:
    """What was logged in the last `since` seconds, oldest first."""
    events = sorted(filtered(logs, groups, int((now() - since) * 1000)), key=lambda e: e.timestamp)
    for event in events:
        say(render(event))
    return events


def follow(
    logs: Any,
    groups: list[str],
    seen: list[Event],
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
    live: Any = None,
) -> None:
    """Keep tailing until Ctrl-C (or `rounds` polls, for tests): StartLiveTail where the
    endpoint offers it (`live`: a logs client without retries, else `logs`), else
    FilterLogEvents from the newest event seen."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    arns = [
        g["logGroupArn"]
        for name in groups
        for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if g["logGroupName"] == name and g.get("logGroupArn")
    ]
    try:
        stream = (live or logs).start_live_tail(logGroupIdentifiers=arns)["responseStream"]
    except EndpointConnectionError as error:  # its streaming host (streaming-logs.*) is not
        why = f"its streaming endpoint did not answer: {error}"  # reached: an emulator's
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code not in LIVE_TAIL_ABSENT and status not in LIVE_TAIL_ABSENT:
            raise
        why = f"the endpoint answers {code or status}"
    else:
        live_tail(stream, say)
        return
    say(f"(no StartLiveTail here, {why}: polling FilterLogEvents every {POLL_SECONDS:g} s)")
    poll(logs, groups, seen, say, sleep, rounds)


def live_tail(stream: Any, say: Callable[[str], None]) -> None:
    for message in stream:
        update = message.get("sessionUpdate")
        if not update:
            continue
        for found in update.get("sessionResults", []):
            event = Event(
                found.get("logGroupIdentifier", ""),
                found.get("logStreamName", ""),
                found.get("timestamp", 0),
                found.get("message", ""),
                "",
            )
            say(render(event))


def poll(
    logs: Any,
    groups: list[str],
    seen: list[Event],
    say: Callable[[str], None],
    sleep: Callable[[float], None],
    rounds: int | None,
) -> None:
    """FilterLogEvents again and again from the newest timestamp seen; each event once (the
    same millisecond is read again, its events told apart by ID)."""
    start = max((e.timestamp for e in seen), default=int(time.time() * 1000))
    known = {e.event_id or (e.timestamp, e.message) for e in seen}
    done = 0
    while rounds is None or done < rounds:
        sleep(POLL_SECONDS)
        for event in sorted(filtered(logs, groups, start), key=lambda e: e.timestamp):
            key = event.event_id or (event.timestamp, event.message)
            if key in known:
                continue
            known.add(key)
            start = max(start, event.timestamp)
            say(render(event))
        done += 1
