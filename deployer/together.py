"""One confirmation for the whole environment: every stack's change set is made and shown
first, then one question, then they execute in the manifest's order.

A stack whose upstream changes in this run is planned only once that upstream is deployed (its
parameters are the upstream's outputs, which the execution may change): the question says so.
Such a stack created anew executes without a second question (its change set creates exactly
the template the reviewer has in build/); an existing one that changes is shown and asked for
on its own. Declined, interrupted, or stopped by a failure: the change sets not executed are
deleted (and the empty stacks their creates made), so nothing is left waiting.

`--confirm-each` keeps the older flow: one question per stack, as each is planned.
"""

from __future__ import annotations

from typing import Any

from deployer import changeset, preflight
from deployer.errors import Declined, Interrupted
from deployer.manifest import StackSpec
from deployer.run import Planned, StackResult


def upstream_of(spec: StackSpec) -> set[str]:
    return {*spec.depends_on, *(f.stack for f in spec.parameters_from_stacks.values())}


def run(deployer: Any, specs: list[StackSpec]) -> None:
    planned: list[Planned] = []
    waiting: list[StackSpec] = []
    changing: set[str] = set()
    for spec in specs:
        upstream = sorted(upstream_of(spec) & changing)
        if upstream:
            deployer.say(f"== {spec.stack_name}")
            deployer.say(f"  planned once {', '.join(upstream)} is deployed (it reads its outputs)")
            waiting.append(spec)
            changing.add(spec.key)
            continue
        prepared = deployer.prepare(spec)
        if isinstance(prepared, StackResult):
            deployer.results.append(prepared)
        else:
            planned.append(prepared)
            changing.add(spec.key)
    if not planned and not waiting:
        return
    confirmed(deployer, planned, waiting)
    remaining = list(planned)
    try:
        while remaining:
            deployer.results.append(deployer.apply(remaining[0]))
            remaining.pop(0)
    except BaseException:
        discard(deployer, remaining[1:])  # the first one ran (or failed) on its own
        raise
    for spec in waiting:
        prepared = deployer.prepare(spec)
        if isinstance(prepared, StackResult):
            deployer.results.append(prepared)
            continue
        if prepared.change_set.change_set_type != "CREATE":  # an update not yet seen: ask
            deployer.ask(prepared)
        deployer.results.append(deployer.apply(prepared))


def confirmed(deployer: Any, planned: list[Planned], waiting: list[StackSpec]) -> None:
    """One question for all of it; a no deletes every change set made."""
    names = ", ".join(p.spec.stack_name for p in planned) or "no stack"
    account = preflight.account_of(planned[0].change_set.arn) if planned else "this account"
    question = f"Execute the change sets above ({names}) in account {account}?"
    if waiting:
        later = ", ".join(s.stack_name for s in waiting)
        question += (
            f" Then {later}: planned against what they deploy; created anew without asking "
            "again, or shown and asked for if it exists and changes."
        )
    try:
        if deployer.options.confirm(question):
            return
    except KeyboardInterrupt:
        discard(deployer, planned)
        raise Interrupted(
            f"interrupted at the prompt: {len(planned)} change set(s) deleted, nothing changed"
        ) from None
    discard(deployer, planned)
    raise Declined(f"not executed: {len(planned)} change set(s) deleted, nothing changed")


def discard(deployer: Any, planned: list[Planned]) -> None:
    for spec, stack, change_set, _shown, _drifted in planned:
        if not change_set.empty:  # an empty one (a tags-only change) is deleted already
            changeset.discard(deployer.cf, change_set.arn, change_set.stack_id, stack is None)
        deployer.say(f"  {spec.stack_name}: change set {change_set.name} deleted")
