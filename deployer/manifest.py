"""Read build/<env>/manifest.json (its shape is defined once, in the top-level manifest.py,
which generate.py writes with): the deployer's names for it, and the reads from disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from manifest import (
    HOSTED_ZONE,
    PREREQUISITES,
    SSM_PARAMETERS,
    VPC,
    Certificate,
    CiStack,
    FromStack,
    Image,
    Manifest,
    ManifestError,
    ServiceSpec,
    StackSpec,
    StaticAssets,
    Subnet,
    Vpc,
    read_text,
)

__all__ = [
    "HOSTED_ZONE",
    "PREREQUISITES",
    "SSM_PARAMETERS",
    "VPC",
    "Certificate",
    "CiStack",
    "FromStack",
    "Image",
    "Manifest",
    "ManifestError",
    "ServiceSpec",
    "StackSpec",
    "StaticAssets",
    "Subnet",
    "Vpc",
    "load",
    "read_text",
    "stale_environment",
]


def stale_environment(manifest: Manifest, env_path: Path) -> bool:
    """The environment file's bytes differ from those the manifest was generated from: the
    change is not in build/ yet. False when the manifest records no digest."""
    if manifest.source_sha256 is None:
        return False
    return hashlib.sha256(env_path.read_bytes()).hexdigest() != manifest.source_sha256


def load(directory: Path) -> Manifest:
    path = directory / "manifest.json"
    try:
        data = json.loads(read_text(path, "the manifest"))
    except ValueError as error:
        raise ManifestError(f"{path}: cannot read it: {error}") from None
    return Manifest.from_dict(path, data)
