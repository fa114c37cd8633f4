"""One JSON object per line on stdout: what awslogs ships to CloudWatch Logs.

Two ways in: `JsonLines.write(fields)` for the access log (hot path: one `json.dumps`, one
write, one flush), and `JsonFormatter` for everything that goes through `logging` (uvicorn's
own messages, startup and shutdown), wired by `service/logging.json` (uvicorn --log-config).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO


def _dumps(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), default=str)


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-11-25T21:42:41.123Z."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonLines:
    """Writes mappings as JSON lines to a stream (stdout unless told otherwise)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, fields: Mapping[str, Any]) -> None:
        # sys.stdout is looked up at write time, so that test runners capturing it see the lines.
        stream = self._stream or sys.stdout
        stream.write(_dumps(fields) + "\n")
        stream.flush()


class JsonFormatter(logging.Formatter):
    """Formats a log record as one JSON line: time, level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return _dumps(fields)
