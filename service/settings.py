"""The service's settings, read once from environment variables through Starlette's Config.

Tests build `Settings` from a plain mapping (`load_settings({...})`) and never touch os.environ.
Nothing here is ever rendered by /_health except the version, which is checked to be a plain,
short revision string before it can be shown.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.config import Config

from service.contract import STATIC_PATH

# A version is a git revision or a release name: short, plain, safe to show to anyone.
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
UNKNOWN_VERSION = "unknown"
# Seconds a client has to send a request's headers (service/protocol.py), from the moment it
# connects or sends a request's first byte. A real client sends them in one packet; nginx waits
# 60 s, but a stalled client holds a file descriptor all that time.
DEFAULT_HEADER_TIMEOUT = 10.0


@dataclass(frozen=True)
class Settings:
    version: str  # APP_VERSION, else GIT_REVISION; "unknown" when unset or not a plain revision
    service_name: str  # SERVICE_NAME: the "Service" dimension of the request metrics
    static_url: str  # STATIC_URL: base URL of the assets (the CDN's, or the app's own /static)
    header_timeout: float  # HEADER_TIMEOUT: seconds to send a request's headers (default 10)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `environ` (default: the process environment)."""
    config = Config(environ=os.environ if environ is None else environ)
    version = config("APP_VERSION", default=None) or config("GIT_REVISION", default=None)
    return Settings(
        version=_plain_version(version),
        service_name=config("SERVICE_NAME", default="scalable-app"),
        static_url=config("STATIC_URL", default=STATIC_PATH).rstrip("/"),
        header_timeout=_positive_seconds(
            "HEADER_TIMEOUT", config("HEADER_TIMEOUT", cast=float, default=DEFAULT_HEADER_TIMEOUT)
        ),
    )


def _positive_seconds(name: str, value: float) -> float:
    # 0 or less would close every connection at once, infinity none: refuse to start instead.
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, not {value}")
    return value


def _plain_version(value: str | None) -> str:
    if value is None or not _VERSION.fullmatch(value):
        return UNKNOWN_VERSION
    return value
