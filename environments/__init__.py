"""Environments: `environments/<name>.toml`, loaded and validated once into typed objects."""

from __future__ import annotations

from environments.loader import available, load, path_of
from environments.model import (
    AlarmThresholds,
    CiConfig,
    CreateVpc,
    DnsConfig,
    Environment,
    ExistingVpc,
    PagerDutyConfig,
    ScalingConfig,
    ServiceConfig,
    StaticAssetsConfig,
    Subnet,
    TlsConfig,
)
from environments.reader import ConfigError

__all__ = [
    "AlarmThresholds",
    "CiConfig",
    "ConfigError",
    "CreateVpc",
    "DnsConfig",
    "Environment",
    "ExistingVpc",
    "PagerDutyConfig",
    "ScalingConfig",
    "ServiceConfig",
    "StaticAssetsConfig",
    "Subnet",
    "TlsConfig",
    "available",
    "load",
    "path_of",
]
