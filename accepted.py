"""The one Metadata key where a resource declares what it allows on purpose, and why.

templates/declared.py writes it (`declare(resource, inbound(...), accepts(...))`); from it come
checkov's skips (written beside it by `declare`), the change-set review's "declared" lines
(deployer/risk.py matches each change that widens access against it) and the README's list of
accepted risks (`make accepted-risks`). templates/ and deployer/ both import this module; it
imports neither.
"""

from __future__ import annotations

from typing import Any

METADATA_KEY = "AcceptedRisks"
# The Kind of a declaration that is no exposure a change could widen (no WAF in front of a
# distribution, a key policy's root statement): it is listed and may skip checkov's checks, and
# the review never matches a change against it.
ACCEPTED = "accepted"


def entries(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The resource's declarations (a template's resource, as a dict)."""
    metadata = resource.get("Metadata") or {}
    declared = metadata.get(METADATA_KEY, []) if isinstance(metadata, dict) else []
    return [d for d in declared if isinstance(d, dict)]


def describe(entry: dict[str, Any]) -> str:
    """What the declaration allows, in a few words (for the README's list)."""
    kind = entry.get("Kind")
    if kind == ACCEPTED:
        return str(entry.get("Risk", "?"))
    if kind in {"ingress", "egress"}:
        way = "inbound" if kind == "ingress" else "outbound"
        side = "from" if kind == "ingress" else "to"
        peer = _text(entry.get("Peer"))
        return f"{way} {entry.get('Protocol')} {entry.get('Ports')} {side} {peer}"
    if kind == "trust":
        return f"trusts {_text(entry.get('Principal'))}"
    if kind == "grant":
        actions = f" {_text(entry['Actions'])}" if "Actions" in entry else ""
        return f"grants {_text(entry.get('Principal'))}{actions}"
    if kind == "permission":
        on = f" on {_text(entry['Resources'])}" if "Resources" in entry else ""
        return f"allows {_text(entry.get('Actions'))}{on}"
    if kind == "public-access":
        return "public access block (partly) off"
    return str(kind)


def _text(value: Any, inline: bool = False) -> str:
    """A value as written in the template: `!Ref X` alone, `${X}` inside a joined string."""
    if isinstance(value, list):
        return ", ".join(_text(v, inline) for v in value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}" if inline else f"!Ref {argument}"
        if function == "Fn::GetAtt":
            name = ".".join(argument)
            return f"${{{name}}}" if inline else f"!GetAtt {name}"
        if function == "Fn::Join":
            return str(argument[0]).join(_text(part, inline=True) for part in argument[1])
        if function == "Fn::FindInMap":
            return "${" + ".".join(_text(part, inline=True) for part in argument) + "}"
    return str(value)
