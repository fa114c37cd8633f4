"""cfn-lint's bundled resource schemas (the CloudFormation registry's, per region), read once.

Two readers: the review's replacement prediction (`createOnlyProperties`, deployer/replacement.py)
and the ci stack's CloudFormation role (`handlers.<verb>.permissions`, templates/ci_permissions.py).
It sits at the top level because templates/ may not import deployer/ (STYLE.md's layers).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

FALLBACK_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")


@cache
def _schemas_dir() -> Path | None:
    """cfn-lint's schema data, found without importing cfn-lint (a second of imports)."""
    spec = find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _providers(region: str) -> dict[str, str]:
    schemas = _schemas_dir()
    if schemas is None:
        return {}
    base = schemas / "providers"
    found = base / f"{region}.json"
    chosen = found if found.is_file() else base / f"{FALLBACK_REGION}.json"
    data: dict[str, str] = json.loads(chosen.read_text())
    return data


@cache
def document(resource_type: str, region: str = FALLBACK_REGION) -> dict[str, Any] | None:
    """The type's schema as the registry publishes it, or None where cfn-lint ships none."""
    digest = _providers(region).get(resource_type)
    if digest is None:
        return None
    schemas = _schemas_dir()
    assert schemas is not None  # _providers found the type there
    data: dict[str, Any] = json.loads((schemas / "resources" / f"{digest}.json").read_text())
    return data


def handler_permissions(resource_type: str, region: str = FALLBACK_REGION) -> dict[str, list[str]]:
    """What CloudFormation needs to be allowed, per handler (create, read, update, delete, list),
    to manage the type; empty where the schema lists no handlers or cfn-lint ships no schema."""
    found = document(resource_type, region) or {}
    handlers = found.get("handlers", {})
    return {
        verb: list(handlers[verb].get("permissions", [])) for verb in HANDLERS if verb in handlers
    }
