"""The flow for each stack, in the manifest's order: preflight, change set, review, confirm,
execute, follow, outputs. Verbs live in the other modules; this only sequences them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from deployer import advice, canary, changeset, drift, outputs, preflight, rollout, states
from deployer.errors import (
    ChangeSetFailed,
    Declined,
    DeployFailed,
    FollowInterrupted,
    Interrupted,
    PreflightError,
    StoppedFollowing,
)
from deployer.follow import Diagnostics, Follower, StillRunning, describe_stack, failure_report
from deployer.manifest import Manifest, StackSpec
from deployer.params import Resolver, UpstreamMissing
from deployer.poll import Backoff
from deployer.session import Aws
from deployer.status import (
    FAILED_CREATES,
    is_busy,
    is_credentials_error,
    is_in_progress,
    is_success,
    operation,
)

if TYPE_CHECKING:  # review (and its risk rules) load only when something changes
    from deployer import review
    from deployer.output import Output

# What happened to one stack. Plan outcomes that mean "something would change" are CHANGED.
NO_CHANGES = "no changes"
CHANGES = "changes"
PENDING_UPSTREAM = "pending upstream"
RECREATE = "recreate"
CREATED = "created"
UPDATED = "updated"
CHANGED = {CHANGES, PENDING_UPSTREAM, RECREATE}


@dataclass
class StackResult:
    key: str
    stack_name: str
    outcome: str
    review: review.Review | None = None
    outputs: list[outputs.Output] = field(default_factory=list)
    note: str = ""
    drift: drift.Drift | None = None  # None: not asked (the stack did not exist yet)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stack_name": self.stack_name,
            "outcome": self.outcome,
            "note": self.note,
            "drift": self.drift.to_dict() if self.drift else None,
            "review": self.review.to_dict() if self.review else None,
            "outputs": [o.to_dict() for o in self.outputs],
        }


class Planned(NamedTuple):
    """A stack's change set, made and shown, not yet confirmed or executed."""

    spec: StackSpec
    stack: dict[str, Any] | None
    change_set: changeset.ChangeSet
    shown: review.Review
    drifted: drift.Drift | None  # None: not asked (the stack did not exist yet)


@dataclass(frozen=True)
class Options:
    execute: bool
    yes: bool
    revision: str
    confirm: Callable[[str], bool]  # asks the person; only called when `yes` is False
    environ: Mapping[str, str]
    backoff: Backoff = field(default_factory=Backoff)
    change_set_timeout: float = 600.0  # seconds CloudFormation may take to compute a change set
    follow_timeout: float = 3600.0  # seconds a stack operation is followed before we let go
    show_review: Callable[[review.Review], None] = lambda _shown: None
    endpoint: str | None = None  # CloudFormation's endpoint when it is not AWS's (an emulator)
    keep_plans: bool = True  # a plan's change sets stay for review; a refused deploy's do not
    terminal: TextIO | None = None  # where a progress line may be redrawn; None: plain lines
    revert_drift: bool = False  # drift-aware change sets (DeploymentMode REVERT_DRIFT)
    drift_timeout: float = 300.0  # seconds drift detection may take before the plan goes on
    confirm_each: bool = False  # one question per stack, not one for the environment
    concurrency: int = 4  # stacks applied at once, over the dependency graph
    output: Output | None = None  # the run's lines (one lock); None: `say` as given
    # Called before each stack is planned for execution (local_aws.py registers the image
    # there once its registry exists); from the thread that deploys the stack.
    before_stack: Callable[[StackSpec], None] | None = None
    # A progressive service's pause: answered by the deployer after its checks (True), or
    # left to a person (--no-verify); the smoke check there takes at most smoke_seconds.
    answer_pause: bool = True
    smoke_seconds: float = 300.0


class Deployer:
    def __init__(self, aws: Aws, manifest: Manifest, options: Options, say: Callable[[str], None]):
        self.aws = aws
        self.cf = aws.cloudformation
        self.manifest = manifest
        self.options = options
        self.say = say
        self.resolver = Resolver(self.cf, manifest, options.environ, aws.client)
        self.results: list[StackResult] = []
        self._caller_account: str | None = None
        # Per service, while its ECS service deployment is under way: the commands that answer
        # or stop it, said when the deploy stops following (Ctrl-C, the deadline).
        self.handovers: dict[str, list[str]] = {}

    def run(self, specs: list[StackSpec]) -> list[StackResult]:
        for spec in specs:  # fail early: missing NoEcho values stop the deploy before any change
            self.resolver.check_environment(spec)
        for line in preflight.prerequisites(self.aws.client, self.manifest, specs):
            self.say(f"  {line}")
        if self.options.execute and not self.options.confirm_each:
            from deployer import together  # every plan shown, one question, then the graph

            together.run(self, specs)
            return self.results
        if not self.options.execute:  # a plan: every stack's side by side, shown in order
            from deployer import together

            together.each_plan(self, specs)
            return self.results
        for spec in specs:
            self.results.append(self.deploy_stack(spec))
        return self.results

    def deploy_stack(self, spec: StackSpec) -> StackResult:
        """One stack from its plan to its end: planned, shown, asked, executed, followed."""
        planned = self.prepare(spec)
        if isinstance(planned, StackResult):
            return planned
        self.ask(planned)
        return self.apply(planned)

    def prepare(self, spec: StackSpec) -> StackResult | Planned:
        """The stack's change set, made and shown: a Planned one to confirm, or the result
        when there is nothing to execute (no changes, pending, a plan)."""
        name = spec.stack_name
        self.say(f"== {name}")
        if self.options.execute and self.options.before_stack is not None:
            self.options.before_stack(spec)
        stack = self._settled(spec, describe_stack(self.cf, name))
        self._not_stuck(spec, stack)
        stack, recreate = self._recreatable(spec, stack)
        if recreate:
            return StackResult(spec.key, name, RECREATE, note=recreate)
        pending = self._pending_upstream(spec)
        if pending:
            return pending
        try:
            exists = stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
            parameters = self.resolver.parameters(spec, exists)
        except UpstreamMissing as why:
            if self.options.execute:
                raise PreflightError(f"stack {name}: {why}") from None
            self.say(f"  {why}: {name} is planned once it exists")
            return StackResult(spec.key, name, PENDING_UPSTREAM, note=str(why))
        image = self.manifest.image_of(spec)
        if image is not None:
            try:
                preflight.image_exists(self.aws.client("ecr"), image.repository_name, image.tag)
                self.say(f"  image {image.repository_name}:{image.tag} is in ECR")
            except PreflightError as missing:
                if self.options.execute:
                    raise
                # A plan executes nothing and its change set does not need the image: a pull
                # request is planned before its revision's image is pushed.
                self.say(f"  note: {missing} before this is deployed")
        # Drift is detected while CloudFormation computes the change set (both take a while).
        detection = drift.start(self.cf, stack["StackId"]) if stack and _exists(stack) else None
        change_set = self._change_set(spec, stack, parameters)
        drifted = self._drift(detection, stack)
        # In a plan, an upstream replacement changes this stack too, once that one is deployed.
        upstream = {} if self.options.execute else self._upstream_replaced(spec)
        if change_set.empty and not self._tags_change(spec, stack) and not upstream:
            changeset.delete_change_set(self.cf, change_set.arn)
            self.say(f"  {name}: no changes")
            if not self.options.execute:
                return StackResult(spec.key, name, NO_CHANGES, drift=drifted)
            assert stack is not None
            self._protect(stack)
            found = self._outputs(spec, stack)
            return StackResult(spec.key, name, NO_CHANGES, outputs=found, drift=drifted)
        if change_set.empty:  # only tags (or upstream IDs) change; the failed one holds nothing
            changeset.delete_change_set(self.cf, change_set.arn)
        shown = self._review(spec, stack, change_set, upstream)
        if not self.options.execute:
            if not self.options.keep_plans and not change_set.empty:
                changeset.discard(self.cf, change_set.arn, change_set.stack_id, stack is None)
            return StackResult(spec.key, name, CHANGES, review=shown, drift=drifted)
        return Planned(spec, stack, change_set, shown, drifted)

    def apply(self, planned: Planned) -> StackResult:
        """Execute a planned change set (confirmed already) and follow it to its end."""
        spec, stack, change_set, shown, drifted = planned
        name = spec.stack_name
        if change_set.empty:  # only the stack's tags change: no change set to execute
            assert stack is not None
            final = self._update_tags(spec, stack)
            found = self._outputs(spec, final)
            return StackResult(spec.key, name, UPDATED, shown, found, drift=drifted)
        final = self._execute(spec, change_set, existed=stack is not None)
        self._protect(final)
        outcome = CREATED if change_set.change_set_type == "CREATE" else UPDATED
        return StackResult(
            spec.key, name, outcome, shown, self._outputs(spec, final), drift=drifted
        )

    def _drift(
        self, detection: str | drift.Drift | None, stack: dict[str, Any] | None
    ) -> drift.Drift | None:
        """The stack's drift (None for a stack being created: nothing to drift from), said
        above the review: a drifted resource stays drifted after an update that is not
        drift-aware."""
        if detection is None or stack is None:
            return None
        found = (
            detection
            if isinstance(detection, drift.Drift)
            else drift.collect(
                self.cf,
                detection,
                stack["StackId"],
                self.options.backoff,
                self.options.backoff.deadline(self.options.drift_timeout),
            )
        )
        for line in found.lines(reverting=self.options.revert_drift):
            self.say(f"  {line}")
        return found

    def _tags_change(self, spec: StackSpec, stack: dict[str, Any] | None) -> bool:
        if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            return False
        return {t["Key"]: t["Value"] for t in stack.get("Tags", [])} != spec.tags

    def _update_tags(self, spec: StackSpec, stack: dict[str, Any]) -> dict[str, Any]:
        """CloudFormation found nothing to change in the template and parameters, yet the
        stack's tags differ: UpdateStack with the previous template and values sets them (it
        propagates them to the resources, as a change set would)."""
        self.say(f"  updating the stack tags of {spec.stack_name}")
        previous = [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack.get("Parameters", [])
        ]
        final, _ = self.operate(
            spec,
            stack,
            "UPDATE",
            lambda: self.cf.update_stack(
                StackName=stack["StackId"],
                UsePreviousTemplate=True,
                Parameters=previous,
                Capabilities=list(spec.capabilities),
                Tags=[{"Key": k, "Value": v} for k, v in sorted(spec.tags.items())],
                **({"RoleARN": spec.role_arn} if spec.role_arn else {}),
            ),
        )
        if not is_success(final["StackStatus"]):
            raise DeployFailed(
                f"{spec.stack_name}: {final['StackStatus']}",
                [f"Updating the stack tags ended {final['StackStatus']}."],
            )
        self.say(f"  {spec.stack_name}: {final['StackStatus']}")
        return final

    def live(self) -> AbstractContextManager[None]:
        """From here on this thread's lines are written as said: a plan computed beside
        others (deployer/parallel.py, its lines held for its block) waits for its turn."""
        return self.options.output.floor() if self.options.output else nullcontext()

    def target(self, spec: StackSpec) -> advice.Target:
        return advice.Target(self.manifest.environment, spec.key, spec.stack_name)

    # ---- preflight ------------------------------------------------------------------------

    def _settled(self, spec: StackSpec, stack: dict[str, Any] | None) -> dict[str, Any] | None:
        """A stack mid-operation (another deploy's, or one we let go of) is waited for, its
        events shown as they come, never raced."""
        if stack is None or not is_in_progress(stack["StackStatus"]):
            return stack
        with self.live():  # its events are shown as they come, not once it is over
            self.say(
                f"  {stack['StackName']} is {stack['StackStatus']}: waiting for it to finish "
                "(Ctrl-C stops waiting; the operation goes on)"
            )
            final = self.follow_running(spec, stack)
        return None if final["StackStatus"] == "DELETE_COMPLETE" else final

    def follow_running(self, spec: StackSpec, stack: dict[str, Any]) -> dict[str, Any]:
        """Follow the operation `stack` (as described) is running, from its start on."""
        since = stack.get("LastUpdatedTime") or stack["CreationTime"]
        final, _ = self.follow(spec, stack, since, operation(stack["StackStatus"]), "")
        return final

    def _not_stuck(self, spec: StackSpec, stack: dict[str, Any] | None) -> None:
        """UPDATE_ROLLBACK_FAILED takes no update: say how to get it going again."""
        if not states.rollback_stuck(stack):
            return
        assert stack is not None
        target = self.target(spec)
        raise PreflightError(
            f"stack {spec.stack_name} is {stack['StackStatus']}: an update failed and so did "
            f"its rollback ({stack.get('StackStatusReason', 'no reason given')}). No update is "
            "possible until the rollback is continued. Fix what stopped it (the events say "
            "which resource), or skip the resources that cannot roll back, then deploy again:\n"
            + advice.follow(target)
            + "\n"
            + advice.continue_rollback(target)
        )

    def _recreatable(
        self, spec: StackSpec, stack: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, str]:
        """A stack from a failed create or delete is reported, and deleted only once
        confirmed. Returns the stack as it now is, and in a plan the note that it would be
        recreated."""
        why = states.must_delete(self.cf, stack)
        if why is None or stack is None:
            return stack, ""
        message = f"stack {spec.stack_name} {why}; it must be deleted before it is created again"
        if not self.options.execute:
            self.say(f"  {message} (deploy will ask to delete it)")
            return stack, message
        with self.live():  # a question, then the delete's events as they come
            self.say(f"  {message}")
            if not self.options.yes and not self.options.confirm(
                f"Delete stack {spec.stack_name}?"
            ):
                raise Declined(f"{message}: not deleted, nothing deployed")
            self.say(f"  deleting {spec.stack_name}")
            final, follower = self.operate(
                spec, stack, "DELETE", lambda: preflight.delete_stack(self.cf, stack)
            )
        if final["StackStatus"] != "DELETE_COMPLETE":
            failed = states.failed_resources(follower.events)
            raise DeployFailed(
                f"{spec.stack_name}: the delete ended {final['StackStatus']}; nothing was created",
                [
                    *(f"Could not delete {logical}: {reason}" for logical, reason in failed),
                    f"Stack {spec.stack_name} is now {final['StackStatus']}.",
                    "Remove what holds those resources (an object in a bucket, an ENI in use, "
                    "a dependency from another stack), then deploy again, which deletes it anew;",
                    advice.delete_retaining(self.target(spec), [f[0] for f in failed]),
                ],
            )
        return None, ""

    def _pending_upstream(self, spec: StackSpec) -> StackResult | None:
        """In a plan, a stack whose upstream is not created yet cannot be planned yet."""
        order = {s.key: i for i, s in enumerate(self.manifest.stacks)}  # not the plans' finish
        waiting = [
            r.stack_name
            for r in sorted(self.results, key=lambda r: order.get(r.key, -1))
            if r.key in spec.depends_on
            and (
                r.outcome in {PENDING_UPSTREAM, RECREATE}
                or (r.review is not None and r.review.change_set_type == "CREATE")
            )
        ]
        if not waiting or self.options.execute:
            return None
        note = f"waits for {', '.join(waiting)} to be created"
        self.say(f"  {note}: planned once it exists")
        return StackResult(spec.key, spec.stack_name, PENDING_UPSTREAM, note=note)

    # ---- change set -----------------------------------------------------------------------

    def _change_set(
        self, spec: StackSpec, stack: dict[str, Any] | None, parameters: list[dict[str, Any]]
    ) -> changeset.ChangeSet:
        body = spec.template_body()
        content = changeset.Content(
            body,
            parameters,
            spec.tags,
            tuple(spec.capabilities),
            spec.role_arn,
            # A stack being created has nothing to drift from (AWS accepts the mode on
            # UPDATE change sets only).
            changeset.REVERT_DRIFT if self.options.revert_drift and _exists(stack) else None,
        )
        name = changeset.change_set_name(self.options.revision, content.digest())
        found: tuple[str, str] | None = None
        if stack is not None and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            stack, found = self._awaiting_first_execution(spec, stack, name, content.digest())
        kind = (
            "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        )
        if found is None:
            found = self._create(spec, stack, name, kind, content)
        arn, stack_id = found
        self.say(
            f"  change set {name} ({kind}) created in account {preflight.account_of(arn)}; "
            "waiting for CloudFormation to compute it"
        )
        try:
            return changeset.settle(
                self.cf,
                arn,
                stack_id,
                name,
                kind,
                self.options.backoff,
                changeset.parameter_types(spec.template),
                self.options.backoff.deadline(self.options.change_set_timeout),
            )
        except ChangeSetFailed:
            changeset.discard(self.cf, arn, stack_id, new_stack=stack is None)
            raise

    def _create(
        self,
        spec: StackSpec,
        stack: dict[str, Any] | None,
        name: str,
        kind: str,
        content: changeset.Content,
    ) -> tuple[str, str]:
        from botocore.exceptions import ClientError

        template = self.template_argument(spec, stack, content.template_body)
        try:
            return changeset.create_change_set(
                self.cf,
                stack_name=spec.stack_name,
                name=name,
                change_set_type=kind,
                template=template,
                content=content,
            )
        except ClientError as error:
            if not is_busy(error):
                raise
            raise PreflightError(self._busy(spec, error, "no change set was created")) from None

    def template_argument(
        self, spec: StackSpec, stack: dict[str, Any] | None, body: str
    ) -> dict[str, Any]:
        """How the change set gets its template: TemplateBody, or TemplateURL when too big."""
        return changeset.template_argument(
            self.aws, spec.stack_name, body, lambda: self._account(stack), self.say
        )

    def _busy(self, spec: StackSpec, error: Exception, what: str) -> str:
        return (
            f"stack {spec.stack_name} is busy with another operation (another deploy?): "
            f"{what}. CloudFormation said: {str(error).strip()}\n"
            + advice.follow(self.target(spec))
            + "\n  then deploy again."
        )

    def _awaiting_first_execution(
        self, spec: StackSpec, stack: dict[str, Any], name: str, content_digest: str
    ) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
        """A REVIEW_IN_PROGRESS stack holds only change sets, no resources. Ours of the same
        content (a plan's: same name, and its Description carries the same digest) is reused;
        when it holds nothing else but older change sets of ours
        (a plan of another revision, a deploy stopped at its prompt), it is deleted first, so
        the CREATE starts clean. Someone else's change set is left alone."""
        pending = list(changeset.summaries(self.cf, stack["StackId"]))
        for summary in pending:
            if (
                summary["ChangeSetName"] == name
                and summary["ExecutionStatus"] == "AVAILABLE"
                and changeset.holds(summary, content_digest)
            ):
                return stack, (summary["ChangeSetId"], summary["StackId"])
        if not all(changeset.is_ours(summary) for summary in pending):
            return stack, None
        self.say(
            f"  {spec.stack_name} awaits its first execution with no change set of this "
            f"content ({len(pending)} older one(s) of ours): deleting the empty stack first"
        )
        self.operate(spec, stack, "DELETE", lambda: preflight.delete_stack(self.cf, stack))
        return None, None

    def _account(self, stack: dict[str, Any] | None) -> str:
        """The account deployed to: the stack's ARN tells it; STS is asked only before the
        stack exists (for a template bucket's name), once per run."""
        if stack is not None:
            return preflight.account_of(stack["StackId"])
        if self._caller_account is None:
            sts = self.aws.client("sts")
            self._caller_account = preflight.caller_account(sts, self.aws.region)
        return self._caller_account

    def _review(
        self,
        spec: StackSpec,
        stack: dict[str, Any] | None,
        change_set: changeset.ChangeSet,
        upstream: dict[str, str],
    ) -> review.Review:
        from deployer import review

        # The risk rules and the replacement prediction compare the templates (written as the
        # template's declarations are): the deployed one is read for any Modify or Remove.
        needs_templates = change_set.change_set_type == "UPDATE" and any(
            c.get("ResourceChange", {}).get("Action") in {"Modify", "Remove"}
            for c in change_set.changes
        )
        deployed = None
        if needs_templates:
            body = self.cf.get_template(StackName=change_set.stack_id, TemplateStage="Original")
            deployed = _as_dict(body["TemplateBody"])
        shown = review.build(
            change_set,
            self.manifest.region,
            stack,
            set(spec.parameters_from_env),
            deployed,
            spec.template,
            self.options.endpoint,
            spec.tags,
            upstream,
        )
        self.options.show_review(shown)
        return shown

    def _upstream_replaced(self, spec: StackSpec) -> dict[str, str]:
        """This stack's parameters that take the ID of a resource an upstream plan replaces."""
        replaced = {r.key: r.review.replaced() for r in self.results if r.review is not None}
        found = {}
        for parameter, source in spec.parameters_from_stacks.items():
            hit = [name for name in source.resources if name in replaced.get(source.stack, ())]
            if hit:
                verb = "is" if len(hit) == 1 else "are"
                found[parameter] = f"{source.stack}'s {', '.join(hit)} {verb} replaced"
        return found

    def ask(self, planned: Planned) -> None:
        """This stack's own question (a no deletes its change set: Declined)."""
        self._confirm_or_discard(planned.spec, planned.stack, planned.change_set)

    def _confirm_or_discard(
        self, spec: StackSpec, stack: dict[str, Any] | None, change_set: changeset.ChangeSet
    ) -> None:
        account = preflight.account_of(change_set.arn)
        question = (
            f"Execute change set {change_set.name} on {spec.stack_name} in account {account}?"
        )
        what = f"change set {change_set.name} deleted, {spec.stack_name} unchanged"
        if change_set.empty:  # deleted already: only the tags would change
            question = f"Update the stack tags of {spec.stack_name} in account {account}?"
            what = f"{spec.stack_name} unchanged"

        def discard() -> None:
            if not change_set.empty:
                changeset.discard(self.cf, change_set.arn, change_set.stack_id, stack is None)

        try:
            if self.options.yes or self.options.confirm(question):
                return
        except KeyboardInterrupt:  # at the prompt: leave nothing behind for the next run
            discard()
            raise Interrupted(f"interrupted at the prompt: {what}") from None
        discard()
        raise Declined(f"not executed: {what}")

    # ---- execute and follow ---------------------------------------------------------------

    def _execute(
        self, spec: StackSpec, change_set: changeset.ChangeSet, existed: bool = True
    ) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.say(f"  executing {change_set.name}")
        try:
            changeset.execute_change_set(self.cf, change_set.arn)
        except ClientError as error:
            stack = describe_stack(self.cf, change_set.stack_id) or {}
            now = f"Stack {spec.stack_name} is now {stack.get('StackStatus', 'gone')}."
            if is_busy(error):
                raise DeployFailed(
                    f"{spec.stack_name}: not executed",
                    [self._busy(spec, error, "the change set was not executed"), now],
                ) from None
            raise DeployFailed(
                f"{spec.stack_name}: CloudFormation refused to execute the change set",
                [f"Root cause: ExecuteChangeSet failed: {error}", now],
            ) from None
        since = change_set.description["CreationTime"]  # the server's clock, not ours
        final, follower = self.follow(
            spec,
            {"StackId": change_set.stack_id, "StackName": spec.stack_name},
            since,
            change_set.change_set_type,
            answer=self.options.answer_pause,
        )
        self.resolver.forget(spec.key)
        stale = changeset.delete_stale_plans(self.cf, change_set.stack_id) if existed else []
        if stale:  # a stack this run created has no plans of ours waiting
            self.say(f"  {changeset.deleted_text(stale)}")
        if not is_success(final["StackStatus"]):
            report = failure_report(follower.events, final, follower.diagnostics)
            if final["StackStatus"] in FAILED_CREATES:
                report.append(
                    "Its first create rolled back: the next deploy asks to delete the stack, "
                    "then creates it again (YES=1 deletes it without asking)."
                )
            if states.rollback_stuck(final):
                report.append(
                    "The rollback failed too: no update is possible until it is continued."
                )
                report.append(advice.continue_rollback(self.target(spec)))
            raise DeployFailed(f"{spec.stack_name}: {final['StackStatus']}", report)
        self.say(f"  {spec.stack_name}: {final['StackStatus']}")
        return final

    def operate(
        self, spec: StackSpec, stack: dict[str, Any], kind: str, start: Callable[[], None]
    ) -> tuple[dict[str, Any], Follower]:
        """Start a `kind` operation on the stack (`start` makes the call) and follow it from
        that moment, on our clock: the call answers before its first event."""
        since = datetime.now(UTC).replace(microsecond=0)
        start()
        return self.follow(spec, stack, since, kind)

    def follow(
        self,
        spec: StackSpec,
        stack: dict[str, Any],
        since: datetime,
        kind: str,
        expect: str | None = None,
        answer: bool = False,
    ) -> tuple[dict[str, Any], Follower]:
        """Follow the stack's `kind` operation (CREATE, UPDATE, DELETE, ROLLBACK) until it
        settles, or the follow deadline passes. `expect` is the operation the stale-read guard
        waits to see (default `kind`; "" when it was already seen running). Whatever stops us
        (Ctrl-C, the deadline, credentials that expire) says how to follow it from there.
        `answer`: a progressive service's pause is answered after the checks (only the
        execution this run started: a follow, or a deploy waiting for another's, hands it
        over)."""
        from botocore.exceptions import BotoCoreError, ClientError

        diagnostics = Diagnostics(lambda: self.aws.client("ecs"))
        watch = (  # the ECS rollout, while a stack that runs the image is created or updated
            self._watch(spec, stack["StackId"], since, diagnostics, answer)
            if spec.service is not None and kind in {"CREATE", "UPDATE"}
            else None
        )
        follower = Follower(
            self.cf,
            stack["StackId"],
            since,
            watch.say if watch else self.say,
            self.options.backoff,
            kind if expect is None else expect,
            diagnostics,
            watch.poll if watch else None,
        )
        target = self.target(spec)
        deadline = self.options.backoff.deadline(self.options.follow_timeout)

        def handover() -> list[str]:  # as the watch last saw the service deployment
            return self.handovers.get(spec.service or "", [])

        try:
            final = follower.until_settled(deadline)
            if isinstance(watch, canary.CanaryWatch):
                watch.finish()
            return final, follower
        except KeyboardInterrupt:
            raise FollowInterrupted(target, kind, handover()) from None
        except StillRunning as running:
            status = running.stack["StackStatus"] if running.stack else "in progress"
            why = f"{spec.stack_name} is still {status} after {deadline.describe()} of following"
            raise StoppedFollowing(why, target, kind, handover()) from None
        except (ClientError, BotoCoreError) as error:
            if not is_credentials_error(error):
                raise
            why = (
                f"AWS stopped accepting the credentials while following {spec.stack_name} "
                f"({str(error).strip()}). Refresh them (aws sso login, a new CI session), then"
            )
            raise StoppedFollowing(why, target, kind) from None
        finally:
            if watch:
                watch.close()

    def _watch(
        self,
        spec: StackSpec,
        stack_id: str,
        since: datetime,
        diagnostics: Diagnostics,
        answer: bool = False,
    ) -> rollout.Watch | canary.CanaryWatch | None:
        """What shows the ECS side of the stack's operation: a rolling update's rollout, or a
        progressive service's service deployment (answered at its pause)."""
        service = next((s for s in self.manifest.services if s.stack == spec.key), None)
        if service is None or service.progressive is None:
            return rollout.watch(self.aws, stack_id, spec.template, self.say, self.options.terminal)
        from deployer import gate

        logical = rollout.service_logical_ids(spec.template)
        if not logical:
            return None
        checks = (
            gate.checks(
                self.aws, stack_id, spec.template, service, self.options.smoke_seconds, self.say
            )
            if answer
            else None
        )
        why_not = (
            "--no-verify"
            if self.options.execute and not self.options.answer_pause
            else "this run did not start the deployment"
        )
        return canary.CanaryWatch(
            lambda: self.aws.client("ecs"),
            lambda: rollout.physical_id(self.cf, stack_id, logical[0]),
            since,
            self.say,
            self.manifest.environment,
            service.name,
            checks,
            diagnostics.notes,
            self.handovers,
            why_not=why_not,
        )

    def _protect(self, stack: dict[str, Any]) -> None:
        """Termination protection on for non-local environments (never switched off here)."""
        if self.manifest.termination_protection and not stack.get("EnableTerminationProtection"):
            self.cf.update_termination_protection(
                EnableTerminationProtection=True, StackName=stack["StackId"]
            )
            self.say(f"  termination protection enabled on {stack['StackName']}")

    def _outputs(self, spec: StackSpec, stack: dict[str, Any]) -> list[outputs.Output]:
        # kept by the resolver: downstream stacks' parameters read the same outputs
        return self.resolver.stack_outputs(spec, stack)


def _exists(stack: dict[str, Any] | None) -> bool:
    """The stack has resources (not absent, not a REVIEW_IN_PROGRESS shell)."""
    return stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"


def _as_dict(body: Any) -> dict[str, Any]:
    return json.loads(body) if isinstance(body, str) else dict(body)
