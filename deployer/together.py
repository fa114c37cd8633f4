"""One confirmation for the whole environment: every stack's change set is made and shown
first, in the manifest's order, then one question, then they execute over the dependency graph
(deployer/graph.py: independent stacks side by side, at most --concurrency at a time).

A stack whose upstream changes in this run is planned only once that upstream is deployed (its
parameters are the upstream's outputs, which the execution may change): the question says so.
Such a stack created anew executes without a second question (its change set creates exactly
the template the reviewer has in build/); an existing one that changes is shown and asked for
on its own. Declined, interrupted, or stopped by a failure: the change sets not executed are
deleted (and the empty stacks their creates made), so nothing is left waiting.

`--confirm-each` keeps the older flow: one question per stack, as each is planned.

The plans are computed side by side (`side_by_side`, at most --concurrency at once, each once
its upstream's is), each stack's lines written as one block in the manifest's order; a plan
(--no-execute) computes every stack's the same way (`each_plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from deployer import changeset, graph, parallel, preflight
from deployer.errors import Declined, Interrupted
from deployer.graph import upstream_of
from deployer.manifest import StackSpec
from deployer.output import Output
from deployer.run import Planned, StackResult

T = TypeVar("T")


def run(deployer: Any, specs: list[StackSpec]) -> None:
    planned, waiting = plans(deployer, specs)
    if not planned and not waiting:
        return
    if not deployer.options.yes:
        confirmed(deployer, planned, waiting)
    options, say = deployer.options, deployer.say
    output = options.output or Output(say)
    # While stacks run side by side, every line goes through the output's lock, prefixed with
    # its stack; the terminal's redrawn lines are the output's board, no stack's own.
    deployer.say = output.say
    deployer.options = replace(options, terminal=None)
    try:
        graph.apply(deployer, planned, waiting, output, options.concurrency, options.terminal)
    finally:
        deployer.options, deployer.say = options, say


def plans(deployer: Any, specs: list[StackSpec]) -> tuple[list[Planned], list[StackSpec]]:
    """Every stack's plan (side_by_side). A stack whose upstream changes is not planned: it
    waits for that upstream's deploy."""
    changing: set[str] = set()  # added to before a dependant starts (in_order's `after`)

    def plan(spec: StackSpec) -> Planned | StackSpec | StackResult:
        upstream = sorted(upstream_of(spec) & changing)
        if upstream:
            deployer.say(f"== {spec.stack_name}")
            deployer.say(f"  planned once {', '.join(upstream)} is deployed (it reads its outputs)")
            changing.add(spec.key)
            return spec
        prepared = deployer.prepare(spec)
        if not isinstance(prepared, StackResult):
            changing.add(spec.key)
        return prepared

    planned: list[Planned] = []
    waiting: list[StackSpec] = []
    for found in side_by_side(deployer, specs, plan):
        if isinstance(found, StackResult):
            deployer.results.append(found)
        elif isinstance(found, Planned):
            planned.append(found)
        else:
            waiting.append(found)
    return planned, waiting


def each_plan(deployer: Any, specs: list[StackSpec]) -> None:
    """A plan (--no-execute): every stack's, side by side; deployer.results in the manifest's
    order. A stack's plan reads its upstream's result (waiting for a stack not created yet, an
    ID an upstream replacement changes): it starts once that one is in deployer.results."""

    def plan(spec: StackSpec) -> StackResult:
        result = deployer.deploy_stack(spec)  # made and shown; a plan asks nothing
        deployer.results.append(result)
        return result

    order = {spec.key: i for i, spec in enumerate(specs)}
    side_by_side(deployer, specs, plan)
    deployer.results.sort(key=lambda result: order.get(result.key, -1))


def side_by_side(deployer: Any, specs: list[StackSpec], plan: Callable[[StackSpec], T]) -> list[T]:
    """plan(spec) for every stack, side by side (at most --concurrency at once: on AWS a
    change set takes seconds to compute), each once its upstream's is; each one's lines are
    written as one block, in the manifest's order. The first plan that fails stops the others
    before anything executes, as one after the other would; the change sets made meanwhile
    for a deploy, never shown, are deleted."""
    output = deployer.options.output or Output(deployer.say)
    position = {spec.key: i for i, spec in enumerate(specs)}
    say = deployer.say
    deployer.say = output.say  # held per stack while it is planned
    try:
        outcomes = parallel.in_order(
            len(specs),
            lambda i: plan(specs[i]),
            output,
            deployer.options.concurrency,
            after=lambda i: [position[k] for k in upstream_of(specs[i]) if k in position],
            stop=lambda outcome: outcome.error is not None,
            name="plan",
        )
    finally:
        deployer.say = say
    failed = [i for i, o in enumerate(outcomes) if o is not None and o.error is not None]
    if failed:
        unseen = [o.value for o in outcomes[failed[0] + 1 :] if o is not None and o.error is None]
        discard(deployer, [p for p in unseen if isinstance(p, Planned)])
        outcomes[failed[0]].get()  # type: ignore[union-attr]
    return [outcome.get() for outcome in outcomes if outcome is not None]


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
