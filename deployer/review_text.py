"""The change-set review as text for the terminal, and the pieces the Markdown form shares:
RISKY changes first, then the declared exposures, the table with what each row replaces and
its before -> after values, parameter and stack-tag changes, the console link on AWS."""

from __future__ import annotations

from typing import Any

from deployer.intrinsics import render as render_value
from deployer.review import Review, Row

VALUE_LIMIT = 100  # characters of a before or after value before it is shortened at an item
ITEM_LIMIT = 200  # the same for one list item added or removed: it is the change, shown whole


def replacement_cell(row: Row) -> str:
    if not row.replacement:
        return "-"
    return row.replacement + (" (predicted)" if row.replacement_source == "predicted" else "")


def row_notes(row: Row) -> list[str]:
    """The lines under a row: replacement, what follows it, values."""
    notes: list[str] = []
    if row.replacement in {"True", "Conditional"}:
        how = "will be REPLACED" if row.replacement == "True" else "may be REPLACED"
        why = row.predicted.reason if row.predicted and row.predicted.replacement != "False" else ""
        by = "AWS reports it" if row.reported_replacement else "predicted from its schema"
        notes.append(f"{how} ({by}{': ' + why if why else ''})")
    if row.disagreement:
        notes.append(row.disagreement)
    if row.replaced_with:
        notes.append("replaced along with it: " + ", ".join(row.replaced_with))
    if row.drift_status in {"MODIFIED", "DELETED"}:
        notes.append(f"drift: {row.drift_status} (this drift-aware change set reverts it)")
    elif row.drift_status not in {"", "IN_SYNC"}:  # UNKNOWN, UNSUPPORTED: not compared
        notes.append(f"drift: {row.drift_status} (not compared with the actual resource)")
    for value in row.values:
        if value.drift is not None:
            notes.append(three_way(value.path, value.drift, value.after))
            continue
        suffix = "  (template values)" if value.source == "template" else ""
        notes.extend(line + suffix for line in diff_lines(value.path, value.before, value.after))
    return notes


def three_way(path: str, drift: dict[str, Any], after: Any) -> str:
    """A drift-aware change set's comparison of one property: the previous template's value,
    the actual one, and the one the change set sets."""
    line = (
        f"{path}: previous template {value_text(drift.get('previous'))}, "
        f"actual {value_text(drift.get('actual'))} -> after {value_text(after)}"
    )
    if drift.get("change") == "SyncWithActual":
        line += " (drift status reset, the value is kept)"
    return line


def diff_lines(path: str, before: Any, after: Any) -> list[str]:
    """What changed, as narrow as it goes: a mapping key by key, a list item by item
    (`+` added, `-` removed), else `before -> after`."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            line
            for key in sorted(set(before) | set(after), key=str)
            if before.get(key) != after.get(key)
            for line in diff_lines(f"{path}/{key}", before.get(key), after.get(key))
        ]
    if isinstance(before, list) and isinstance(after, list) and before and after:
        removed = [item for item in before if item not in after]
        added = [item for item in after if item not in before]
        if removed or added:
            return [f"{path}: - {value_text(item, ITEM_LIMIT)}" for item in removed] + [
                f"{path}: + {value_text(item, ITEM_LIMIT)}" for item in added
            ]
        return [f"{path}: same items, in another order: {value_text(after)}"]
    return [f"{path}: {value_text(before)} -> {value_text(after)}"]


def value_text(value: Any, limit: int = VALUE_LIMIT) -> str:
    return render_value(value, limit)


def empty_change_set_note(review: Review) -> str:
    if review.change_set_empty:
        return (
            "(CloudFormation found no resource changes; the stack's tags change, and "
            "executing updates them)"
        )
    return (
        "(no resource changes: the stack's outputs, parameters or tags change, and "
        "executing it updates them)"
    )


def where(review: Review) -> str:
    """The console link; on an emulator nothing (the run says once which endpoint it is)."""
    return f"Review in the console: {review.console_url}" if review.console_url else ""


def render(review: Review) -> str:
    lines = [
        f"Stack {review.stack_name}: {review.change_set_type} change set {review.change_set_name}"
    ]
    if review.empty:
        return lines[0] + ": no changes"
    if review.risks:
        lines.append("RISKY CHANGES (read these before approving):")
        lines.extend(f"  ! {risk.line()}" for risk in review.risks)
    if review.declared:
        lines.append("Declared exposures (intended; the reason is the template's):")
        lines.extend(f"  declared {d.line()} -- {d.declared}" for d in review.declared)
    header = ("Action", "Logical ID", "Type", "Replacement", "Triggered by")
    table = [
        (
            row.action,
            row.logical_id,
            row.resource_type,
            replacement_cell(row),
            ", ".join(row.triggers) or "-",
        )
        for row in review.rows
    ]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header) - 1)]
    for number, cells in enumerate([header, *table] if table else []):
        lines.append(
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False))
            + "  "
            + cells[-1]
        )
        if number:
            lines.extend(f"      {note}" for note in row_notes(review.rows[number - 1]))
    if review.upstream_replaced:
        lines.append("After the upstream replacements (not in this change set yet):")
        lines.extend(f"  {line}" for line in review.upstream_replaced)
    if review.values_missing:
        lines.append(
            f"  (AWS gave no property values for {', '.join(review.values_missing)}: "
            "IncludePropertyValues leaves some changes out; their values above, if any, "
            "come from the deployed and new templates)"
        )
    if not review.rows and not review.upstream_replaced:
        lines.append("  " + empty_change_set_note(review))
    if review.parameters:
        lines.append("Parameters:")
        lines.extend(
            f"  {p.path}: {value_text(p.before)} -> {value_text(p.after)}"
            for p in review.parameters
        )
    if review.tags:
        lines.append("Stack tags:")
        lines.extend(
            f"  {t.path}: {value_text(t.before)} -> {value_text(t.after)}" for t in review.tags
        )
    if where(review):
        lines.append(where(review))
    return "\n".join(lines)
