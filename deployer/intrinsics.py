"""CloudFormation values as a person writes them, for the review.

`{"Fn::Join": ["", [{"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}, "/logs/", {"Ref":
"AWS::AccountId"}]]}` reads `${AccessLogsBucket.Arn}/logs/${AWS::AccountId}`; a reference on its
own reads `!Ref ServiceSecurityGroup`, and the other functions read as YAML's short forms
(`!If [...]`, `!FindInMap [...]`). Lists and mappings read as YAML's flow style; a long one is
shortened after a whole item, with "(N more)", never in the middle of a token.
"""

from __future__ import annotations

import json
from typing import Any

LIMIT = 160  # characters a rendered list or mapping may take before it is shortened


def is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))
    )


def render(value: Any, limit: int = LIMIT) -> str:
    """One value, readable; `limit` bounds lists and mappings (shortened at an item)."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if is_intrinsic(value):
        return _function(value, limit)
    if isinstance(value, list):
        return "[" + _items([render(v, limit) for v in value], limit) + "]"
    if isinstance(value, dict):
        return "{" + _items([f"{k}: {render(v, limit)}" for k, v in value.items()], limit) + "}"
    return str(value)


def inline(value: Any) -> str:
    """A value as it reads inside a string: `${Name}` for a reference or attribute."""
    if isinstance(value, str):
        return value
    if is_intrinsic(value):
        name, args = next(iter(value.items()))
        if name == "Ref":
            return "${" + str(args) + "}"
        if name == "Fn::GetAtt":
            return "${" + _dotted(args) + "}"
        if name in {"Fn::Join", "Fn::Sub"}:
            return _function(value, LIMIT)
        return "{" + _function(value, LIMIT) + "}"
    return render(value)


def shorten(items: list[str], limit: int = LIMIT) -> str:
    """Items joined by ", ", as many whole ones as fit in `limit`, then "(N more)"."""
    return _items(items, limit)


def _items(items: list[str], limit: int) -> str:
    shown: list[str] = []
    used = 0
    for item in items:
        if shown and used + len(item) > limit:
            return ", ".join(shown) + f", ... ({len(items) - len(shown)} more)"
        shown.append(item)
        used += len(item) + 2
    return ", ".join(shown)


def _dotted(args: Any) -> str:
    if isinstance(args, list):
        return ".".join(inline(a) if not isinstance(a, str) else a for a in args)
    return str(args)


def _function(value: dict[str, Any], limit: int) -> str:
    name, args = next(iter(value.items()))
    if name == "Ref":
        return f"!Ref {args}"
    if name == "Fn::GetAtt":
        return f"!GetAtt {_dotted(args)}"
    if name == "Fn::Join" and isinstance(args, list) and len(args) == 2:
        separator, parts = args
        if isinstance(parts, list):
            return str(separator).join(inline(p) for p in parts)
        return f"!Join [{render(separator)}, {render(parts, limit)}]"
    if name == "Fn::Sub":
        if isinstance(args, list) and len(args) == 2 and isinstance(args[1], dict):
            text = str(args[0])
            for var, sub in args[1].items():
                text = text.replace("${" + var + "}", inline(sub))
            return text
        return str(args)
    short = name.removeprefix("Fn::")
    if isinstance(args, list):
        return f"!{short} [" + _items([render(a, limit) for a in args], limit) + "]"
    if args in ("", None):
        return f"!{short}"
    return f"!{short} {render(args, limit)}"
