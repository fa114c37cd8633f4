"""Apply confirmed plans over the stacks' dependency graph, at most `concurrency` at a time.

A stack starts once every stack it depends on (in this run) has deployed. A stack that fails
stops nothing already running, nor any stack that does not depend on it; its dependants are
skipped, with the reason. Ctrl-C stops following every running stack and says, for each, what
goes on in CloudFormation and how to follow or cancel it; the plans not started are deleted.

Output goes through one `Output` (one lock around every write): in a log, whole lines prefixed
with the stack's key; on a terminal, the same lines scroll above one redrawn line per stack.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from deployer import advice
from deployer.errors import DeployError, DeployFailed, Interrupted, StoppedFollowing
from deployer.manifest import StackSpec
from deployer.output import Output, Ticker
from deployer.parallel import next_done
from deployer.run import Planned, StackResult

FAILED = "failed"
SKIPPED = "skipped"
DEFAULT_CONCURRENCY = 4


class GraphFailed(DeployFailed):
    """Some stacks failed (the others ran to their end): the results say which."""


@dataclass
class Node:
    """One stack to apply: its plan, or (a stack whose upstream changes in this run) its spec,
    planned once that upstream has deployed."""

    spec: StackSpec
    planned: Planned | None
    upstream: set[str] = field(default_factory=set)
    state: str = "waiting"
    started: float = 0.0
    ended: float = 0.0

    @property
    def key(self) -> str:
        return self.spec.key


def upstream_of(spec: StackSpec) -> set[str]:
    return {*spec.depends_on, *(f.stack for f in spec.parameters_from_stacks.values())}


def apply(
    deployer: Any,
    planned: list[Planned],
    waiting: list[StackSpec],
    output: Output,
    concurrency: int,
    terminal: TextIO | None = None,
) -> None:
    """Apply the plans and the waiting stacks; every outcome is appended to deployer.results
    (in the manifest's order). Raises GraphFailed when any failed, Interrupted on Ctrl-C."""
    order = {spec.key: i for i, spec in enumerate(deployer.manifest.stacks)}
    nodes = [Node(p.spec, p) for p in planned] + [Node(s, None) for s in waiting]
    nodes.sort(key=lambda n: order[n.spec.key])
    in_run = {n.spec.key for n in nodes}
    for node in nodes:
        node.upstream = upstream_of(node.spec) & in_run
    results: dict[str, StackResult] = {}
    reports: dict[str, list[str]] = {}
    done: queue.Queue[tuple[Node, StackResult, list[str]]] = queue.Queue()
    running: list[Node] = []
    output.track(nodes, terminal)
    ticker = Ticker(output)
    try:
        while len(results) < len(nodes):
            for node in nodes:
                if node.state != "waiting":
                    continue
                blocked = [k for k in sorted(node.upstream) if k in results and _bad(results[k])]
                if blocked:
                    node.state = SKIPPED
                    why = f"not started: {', '.join(blocked)} did not deploy"
                    results[node.spec.key] = _result(node.spec, SKIPPED, why)
                    _discard(deployer, node)
                    output.say(f"{node.spec.stack_name}: skipped ({why})")
                elif len(running) < concurrency and all(
                    results.get(k) is not None for k in node.upstream
                ):
                    node.state, node.started = "running", time.monotonic()
                    running.append(node)
                    threading.Thread(
                        target=_work,
                        args=(deployer, node, output, done),
                        name=f"stack-{node.spec.key}",
                        daemon=True,  # Ctrl-C leaves them following; the process's exit ends them
                    ).start()
            if len(results) == len(nodes):
                break
            node, result, report = next_done(done)
            running.remove(node)
            node.state, node.ended = result.outcome, time.monotonic()
            results[node.spec.key] = result
            if report:
                reports[node.spec.key] = report
            output.redraw()
    except KeyboardInterrupt:
        output.silenced = True
        ticker.stop()
        output.stop_board()
        not_started = [n for n in nodes if n.state == "waiting"]
        for node in not_started:
            _discard(deployer, node)
        raise Interrupted(_interrupted(deployer, running, not_started)) from None
    finally:
        ticker.stop()
        output.stop_board()
        deployer.results.extend(sorted(results.values(), key=lambda r: order[r.key]))
    failed = [key for key, result in results.items() if result.outcome == FAILED]
    if failed:
        lines = [f"{key}: {line}" for key in failed for line in reports.get(key, [])]
        raise GraphFailed(
            f"{len(failed)} of {len(nodes)} stack(s) failed: {', '.join(failed)}", lines
        )


def _bad(result: StackResult) -> bool:
    return result.outcome in {FAILED, SKIPPED}


def _result(spec: StackSpec, outcome: str, note: str) -> StackResult:
    return StackResult(spec.key, spec.stack_name, outcome, note=note)


def _work(
    deployer: Any,
    node: Node,
    output: Output,
    done: queue.Queue[tuple[Node, StackResult, list[str]]],
) -> None:
    """One stack, in its own thread: whatever it raises is its outcome, never the others'."""
    with output.stack(node.spec.key):
        try:
            done.put((node, _deploy(deployer, node, output), []))
        except DeployFailed as error:
            output.say(f"FAILED: {error}")
            done.put((node, _result(node.spec, FAILED, str(error)), error.report))
        except StoppedFollowing as error:
            done.put((node, _result(node.spec, FAILED, error.why), error.advice().splitlines()))
        except DeployError as error:
            output.say(f"FAILED: {error}")
            done.put((node, _result(node.spec, FAILED, str(error).splitlines()[0]), []))
        except Exception as error:  # an AWS refusal, a bug: this stack's failure alone
            output.say(f"FAILED: {type(error).__name__}: {error}")
            done.put((node, _result(node.spec, FAILED, str(error)), []))


def _deploy(deployer: Any, node: Node, output: Output) -> StackResult:
    if node.planned is not None:
        return deployer.apply(node.planned)
    prepared = deployer.prepare(node.spec)  # its upstream has deployed: planned against it
    if isinstance(prepared, StackResult):
        return prepared
    node.planned = prepared
    if prepared.change_set.change_set_type != "CREATE":  # an update not yet seen: ask
        with output.prompt():
            deployer.ask(prepared)
    return deployer.apply(prepared)


def _discard(deployer: Any, node: Node) -> None:
    from deployer import together

    if node.planned is not None:
        together.discard(deployer, [node.planned])


def _interrupted(deployer: Any, running: list[Node], not_started: list[Node]) -> str:
    lines = ["Interrupted: stopped following every running stack."]
    for node in running:
        kind = node.planned.change_set.change_set_type if node.planned is not None else "UPDATE"
        target = advice.Target(deployer.manifest.environment, node.spec.key, node.spec.stack_name)
        lines.append(f"{node.spec.stack_name}: its {kind.lower()} goes on in CloudFormation")
        lines.extend(advice.in_progress(target, kind))
        lines.extend(deployer.handovers.get(node.spec.service or "", []))
    if not_started:
        names = ", ".join(n.spec.stack_name for n in not_started)
        lines.append(f"Not started (their change sets deleted): {names}")
    return "\n".join(lines)
