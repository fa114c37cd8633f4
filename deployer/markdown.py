"""The run as Markdown, for a pull-request comment: risky changes first, then one table of the
stacks, then each stack's review folded in <details>. The same facts as the text review
(review.py) and the JSON document, in another form."""

from __future__ import annotations

from typing import Any

from deployer.drift import Drift
from deployer.review import Review
from deployer.review_text import (
    empty_change_set_note,
    replacement_cell,
    row_notes,
    value_text,
    where,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


def render(document: dict[str, Any]) -> str:
    """`document`: deploy.py's JSON document of the run (mode, environment, stacks...)."""
    if document.get("mode") == "status":
        return render_status(document)
    environment = document.get("environment", "?")
    region = document.get("region", "?")
    mode = document.get("mode", "plan")
    lines = [f"### {mode.capitalize()} of `{environment}` in `{region}`", ""]
    endpoint = document.get("endpoint")
    if endpoint and endpoint != "aws":
        lines += [f"On {endpoint} (not AWS: no console links).", ""]
    reviews = [
        (stack, Review.from_dict(stack["review"]) if stack.get("review") else None)
        for stack in document.get("stacks", [])
    ]
    risky = [(s, f) for s, shown in reviews if shown for f in shown.risks]
    if risky:
        lines += ["**RISKY CHANGES** (read these before approving):", ""]
        lines += [f"- :warning: **{s['key']}** {_cell(f.line())}" for s, f in risky]
        lines.append("")
    elif any(shown for _, shown in reviews):
        lines += ["No risky change.", ""]
    lines += _drift(document)
    lines += [
        "| Stack | Outcome | Changes | Replaced | Risky | Declared |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for stack, shown in reviews:
        outcome = stack["outcome"] + (f" ({stack['note']})" if stack.get("note") else "")
        counts = _counts(shown)
        lines.append(
            f"| {_code(stack['stack_name'])} | {_cell(outcome)} | " + " | ".join(counts) + " |"
        )
    if document.get("error"):
        lines += ["", f"**Error:** {_cell(str(document['error']))}"]
    for stack, shown in reviews:
        if shown is not None and not shown.empty:
            lines += ["", *_details(stack["stack_name"], shown)]
    return "\n".join(lines)


def _drift(document: dict[str, Any]) -> list[str]:
    """Drifted resources above the reviews (each stack's, with its property differences);
    stacks whose drift could not be checked for the same reason share one line."""
    reverting = bool(document.get("revert_drift"))
    lines: list[str] = []
    unchecked: dict[str, list[str]] = {}
    for stack in document.get("stacks", []):
        if not stack.get("drift"):
            continue
        found = Drift.from_dict(stack["drift"])
        if not found.checked:
            unchecked.setdefault(found.note, []).append(stack["key"])
        elif found.resources:
            head, *rest = found.lines(reverting)
            lines += [f"**{stack['key']}** {_cell(head)}", ""]
            lines += [
                f"{line[: len(line) - len(line.lstrip())]}- {_cell(line.strip())}" for line in rest
            ]
            lines.append("")
    for note, keys in unchecked.items():
        lines += [f"Drift not checked ({', '.join(keys)}): {_cell(note)}", ""]
    return lines


def _counts(shown: Review | None) -> list[str]:
    if shown is None:
        return ["-", "-", "-", "-"]
    replaced = sum(1 for row in shown.rows if row.replacement in {"True", "Conditional"})
    return [str(len(shown.rows)), str(replaced), str(len(shown.risks)), str(len(shown.declared))]


def _details(stack_name: str, shown: Review) -> list[str]:
    lines = [
        f"<details><summary>{stack_name}: {shown.change_set_type} change set "
        f"{shown.change_set_name}, {len(shown.rows)} change(s)</summary>",
        "",
    ]
    if shown.rows:
        lines += [
            "| Action | Logical ID | Type | Replacement | Triggered by |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in shown.rows:
            lines.append(
                f"| {row.action} | {_code(row.logical_id)} | {row.resource_type} | "
                f"{replacement_cell(row)} | {_cell(', '.join(row.triggers) or '-')} |"
            )
        notes = [(row.logical_id, note) for row in shown.rows for note in row_notes(row)]
        if notes:
            lines.append("")
            lines += [f"- {_code(logical)}: {_cell(note)}" for logical, note in notes]
    else:
        lines.append(empty_change_set_note(shown))
    if shown.upstream_replaced:
        lines += ["", "After the upstream replacements (not in this change set yet):", ""]
        lines += [f"- {_cell(line)}" for line in shown.upstream_replaced]
    if shown.declared:
        lines += ["", "Declared exposures (intended; the reason is the template's):", ""]
        lines += [f"- {_cell(d.line())} -- {_cell(d.declared)}" for d in shown.declared]
    for title, changes in (("Parameters", shown.parameters), ("Stack tags", shown.tags)):
        if changes:
            lines += ["", f"{title}:", ""]
            lines += [
                f"- {_code(c.path)}: {_cell(value_text(c.before))} -> {_cell(value_text(c.after))}"
                for c in changes
            ]
    if where(shown):
        lines += ["", where(shown)]
    lines += ["", "</details>"]
    return lines


def render_status(document: dict[str, Any]) -> str:
    """make status OUTPUT=markdown: the stacks' table, then each service's facts."""
    found = document.get("status")
    lines = [
        f"### Status of `{document.get('environment', '?')}` in `{document.get('region', '?')}`",
        "",
    ]
    if not found:
        return "\n".join([*lines, f"Not read: {document.get('error', 'no status')}", ""])
    lines += ["| stack | status | since |", "| --- | --- | --- |"]
    for stack in found["stacks"]:
        lines.append(
            f"| `{stack['stack_name']}` | {_cell(stack['status'])} | {stack['last_update'] or ''} |"
        )
    from deployer import rollout

    for service in found.get("services", []):
        lines += ["", f"#### Service `{service['name']}` (`{service['stack_name']}`)", ""]
        if not service["deployed"]:
            lines.append("Not deployed.")
            continue
        deployment = service["rollout"]
        image = service["image"]
        facts = [
            ("rollout", rollout.Rollout(**deployment).line() if deployment else "no ECS service"),
            *(
                [("deployment", service["service_deployment"].get("line", "not read"))]
                if service.get("service_deployment")
                else []
            ),
            ("image deployed", image["deployed"] or ""),
            ("this checkout's image", image["checkout"]),
            ("the ECS deployment runs", ", ".join(image["running"])),
            ("rollback would go back to", service["rollback_to"] or "nothing recorded"),
            (
                "alarms",
                ", ".join(f"{a['logical_id']} {a['state']}" for a in service["verify"]["alarms"]),
            ),
            ("url", service["url"] or ""),
            ("dashboard", service["dashboard"] or ""),
        ]
        lines += ["| | |", "| --- | --- |"]
        lines += [f"| {name} | {_cell(str(value))} |" for name, value in facts]
    return "\n".join([*lines, ""])
