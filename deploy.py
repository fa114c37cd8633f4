"""Deploy an environment's stacks through CloudFormation change sets a person can review.

    python deploy.py --env local                 # plan, confirm, execute, follow
    python deploy.py plan --env production --output json     # or --output markdown
    python deploy.py follow --env production --stack service     # re-attach to an operation
    python deploy.py cancel --env production --stack service     # cancel an update
    python deploy.py continue-rollback --env production --stack service --skip Service
    python deploy.py status --env production [--output json]  # the service on one screen
    python deploy.py rollback --env production   # the previous image, as a reviewed change set
    python deploy.py logs --env production [--follow] [--since 10m]   # the service's logs
    python deploy.py destroy --env staging [--service api]   # delete, after typing the name
    python deploy.py promote --env production --service api  # a paused canary: CONTINUE
    python deploy.py abort --env production --service api    # ... or ROLLBACK

It deploys what generate.py wrote to build/<env>/ (what was linted is what ships) and reaches
AWS only through boto3's standard resolution (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL...).
The verbs live in deployer/; only main() turns their exceptions into exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent
EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130
VERBS = (
    "deploy",
    "plan",
    "follow",
    "cancel",
    "continue-rollback",
    "status",
    "rollback",
    "logs",
    "destroy",
    "promote",
    "abort",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Deploy an environment's stacks through CloudFormation change sets: preflight "
            "checks, a review of every change (risky ones flagged), confirmation, execution "
            "and a live event tail. Exit status: 0 success or nothing to do, 1 error (and "
            "a deploy nobody could confirm: without a terminal and without --yes, every plan "
            "is shown, then nothing runs); plan (or --no-execute): 0 nothing would change, 2 "
            "something would, 1 error; 130 Ctrl-C. "
            "The other verbs act on a stack operation already under way: follow re-attaches "
            "to it, cancel cancels an update (or deletes a stack whose create is running), "
            "continue-rollback continues a rollback that failed (UPDATE_ROLLBACK_FAILED). "
            "status shows the deployed service; rollback deploys the image that ran before "
            "the one running now, changing nothing else. logs shows the service's CloudWatch "
            "Logs (--follow keeps tailing). destroy deletes the environment's stacks (or "
            "--service's) in reverse dependency order, after their review and once the "
            "environment's name is typed (--yes: without asking). promote and abort answer a "
            "progressive service's paused ECS deployment (--service NAME): CONTINUE, or "
            "ROLLBACK (abort also stops one under way that is not paused), after asking "
            "(--yes: without asking)."
        )
    )
    parser.add_argument("verb", nargs="?", choices=VERBS, default="deploy", help="default: deploy")
    parser.add_argument(
        "--env",
        required=True,
        help="environment name (environments/NAME.toml) or path to a .toml file; "
        "it must validate, and build/NAME/ must hold its generated templates",
    )
    parser.add_argument(
        "--stack",
        action="append",
        metavar="STACK",
        help="deploy only this stack (manifest key, e.g. registry, or stack name); repeatable; "
        "default: every stack, in dependency order",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="create and show the change sets, execute nothing (exit 0: no changes, 2: changes)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="execute without asking (needed when stdin is not a terminal, e.g. CI); also "
        "allows deleting a stack left in ROLLBACK_COMPLETE by a failed create",
    )
    parser.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="only this [services.NAME] of the environment: its stacks, plus the shared "
        "stacks (applied only when they change); repeatable; default: every service",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="deploy: apply at most N stacks at once, each once the stacks it depends on have "
        "deployed; deploy and plan: compute at most N plans at once, and after a deploy check "
        "at most N services at once, each one's lines written whole in the manifest's order "
        "(default 4; 1: one after the other)",
    )
    parser.add_argument(
        "--confirm-each",
        action="store_true",
        help="ask for each stack as its plan is shown (default: every plan first, then one "
        "question for the whole environment)",
    )
    parser.add_argument(
        "--output",
        choices=("text", "json", "markdown"),
        default="text",
        help="text: review tables and events for people (default); json: one JSON document "
        "on stdout with the same review (shape: README, 'Plans for machines'); markdown: a "
        "summary for a pull-request comment, risky changes first. With json and markdown, "
        "stdout holds that document only, and progress goes to stderr",
    )
    # local_aws.py: the emulator's known limits (no alarms) were said in full on its first run.
    parser.add_argument("--emulator-limits-said", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="MINUTES",
        help="stop following a stack operation after this long (default 60); the operation "
        "goes on, and the message says how to follow it (exit 1)",
    )
    parser.add_argument(
        "--change-set-timeout",
        type=float,
        default=10.0,
        metavar="MINUTES",
        help="stop waiting for CloudFormation to compute a change set after this long "
        "(default 10; exit 1, nothing executed)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="continue-rollback: a resource that cannot roll back, marked rolled back as it "
        "is (repeatable; see the stack's events for which one failed)",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="after the deploy, do not check that the alarms are quiet and the paging "
        "subscription is confirmed (the rollout summary and the smoke check still run); a "
        "progressive service's deployment is not answered at its pause: the deploy shows "
        "make promote / make abort and follows it until a person (or the pause's timeout) does",
    )
    parser.add_argument(
        "--smoke-timeout",
        type=float,
        default=5.0,
        metavar="MINUTES",
        help="after the deploy, how long https://<domain>/_health may take to answer 200 "
        "with the new version (default 5; exit 1 when it does not)",
    )
    parser.add_argument("--follow", action="store_true", help="logs: keep tailing until Ctrl-C")
    parser.add_argument(
        "--since",
        default="10m",
        metavar="DURATION",
        help="logs: from how long ago (30s, 10m, 2h, 1d; default 10m)",
    )
    parser.add_argument(
        "--revert-drift",
        action="store_true",
        help="create drift-aware change sets (DeploymentMode REVERT_DRIFT): the update also "
        "puts resources changed outside CloudFormation back to their template, and the review "
        "shows AWS's three-way comparison (previous template, actual, after)",
    )
    parser.add_argument(
        "--build-dir",
        type=Path,
        help="where generate.py wrote the manifest and templates (default: build/NAME)",
    )
    args = parser.parse_args(argv)
    if args.verb == "plan":  # the verb the JSON document's "mode" names
        args.no_execute = True
    if args.concurrency < 1:
        parser.error(f"--concurrency {args.concurrency}: at least 1 (1: one stack at a time)")
    if args.verb == "logs" and args.follow and args.output != "text":
        parser.error("logs --follow writes lines as they come: --output text only")
    return args


def git_dirs(root: Path) -> tuple[Path, Path]:
    """The checkout's git directory (its HEAD) and the one holding the refs. In a worktree
    `.git` is a file naming its own directory, whose refs live in the main checkout's."""
    git = root / ".git"
    if git.is_file():
        git = (root / git.read_text().strip().removeprefix("gitdir: ")).resolve()
    common = git / "commondir"
    return git, ((git / common.read_text().strip()).resolve() if common.exists() else git)


def git_revision() -> str:
    """The checkout's revision, read from .git directly (a `git` process costs a fork)."""
    try:
        git, shared = git_dirs(ROOT)
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:10]
        ref = head[5:]
        if (shared / ref).exists():
            return (shared / ref).read_text().strip()[:10]
        for line in (shared / "packed-refs").read_text().splitlines():
            if line.endswith(f" {ref}"):
                return line[:10]
    except OSError:
        pass
    return "norev"


def ask(stream: TextIO) -> Callable[[str], bool]:
    def confirm(question: str) -> bool:
        stream.write(f"{question} [y/N] ")
        stream.flush()
        return sys.stdin.readline().strip().lower() in {"y", "yes"}

    return confirm


def typed(stream: TextIO) -> Callable[[str], str]:
    def answer(question: str) -> str:
        stream.write(f"{question} ")
        stream.flush()
        return sys.stdin.readline().strip()

    return answer


REFUSAL = (
    "refusing to execute, stdin is not a terminal, so nobody can confirm. Pass --yes "
    "(make deploy YES=1) to execute without asking, or --no-execute (make plan) to review only."
)


def refuse(say: Callable[[str], None]) -> Callable[[str], bool]:
    """Without a terminal nobody can answer: every question is a no, and says why."""

    def confirm(question: str) -> bool:
        say(f"{question} No: {REFUSAL}")
        return False

    return confirm


def main(
    argv: list[str] | None = None,
    before_stack: Callable[[Any], None] | None = None,
    lock_held: bool = False,
) -> int:
    """`before_stack(spec)`: called before each stack of a deploy is planned (local_aws.py
    registers the image once its registry exists). `lock_held`: the caller holds this
    environment's deploy lock (local_aws.py, around its own steps)."""
    args = parse_args(argv)
    as_json = args.output == "json"
    progress = sys.stdout if args.output == "text" else sys.stderr

    def say(line: str) -> None:
        print(line, file=progress, flush=True)

    mode = (
        args.verb
        if args.verb not in {"deploy", "plan"}
        else "plan"
        if args.no_execute
        else "deploy"
    )
    document: dict[str, Any] = {"mode": mode, "revert_drift": args.revert_drift}
    results: list[Any] = []
    code = EXIT_ERROR
    try:
        interrupt_on_termination()
        code = run(args, say, results, document, progress, before_stack, lock_held)
    except KeyboardInterrupt:
        say("\ninterrupted: nothing more was started")
        document["error"] = "interrupted"
        code = EXIT_INTERRUPTED
    except Exception as error:  # mapped to exit codes here, and only here
        code = report_error(error, say, document)
    finally:
        # One round trip through JSON: the Markdown is rendered from the very document
        # --output json prints (local_aws.py renders two runs' merged documents the same way).
        document = json.loads(
            json.dumps(
                {**document, "stacks": [r.to_dict() for r in results], "exit_code": code},
                default=str,
            )
        )
        if as_json:
            print(json.dumps(document, indent=2))
        elif args.output == "markdown":
            from deployer import markdown

            print(markdown.render(document))
    return code


def interrupt_on_termination() -> None:
    """SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) stop a deploy as Ctrl-C
    does, so what it started is cleaned up or explained in the same way."""
    import signal

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def run(
    args: argparse.Namespace,
    say: Callable[[str], None],
    results: list[Any],
    doc: dict,
    progress: TextIO,
    before_stack: Callable[[Any], None] | None = None,
    lock_held: bool = False,
) -> int:
    import os

    import environments
    from deployer import lock, preflight
    from deployer import manifest as manifests
    from deployer.errors import ManifestError
    from deployer.graph import GraphFailed
    from deployer.output import Output
    from deployer.run import CHANGED, Deployer, Options
    from deployer.session import Aws

    output = Output(say)  # one lock around every line: stacks may be applied side by side
    say = output.say
    env = environments.load(args.env)
    build_dir = args.build_dir or ROOT / "build" / env.name
    manifest = manifests.load(build_dir)
    if manifest.environment != env.name or manifest.region != env.region:
        raise ManifestError(
            f"{manifest.path} was generated for {manifest.environment} in {manifest.region}, "
            f"not {env.name} in {env.region}: run make templates ENV={env.name}"
        )
    if manifests.stale_environment(manifest, env.path):
        say(
            f"warning: {env.path.name} changed after {manifest.path} was generated; "
            f"run make templates ENV={env.name} to deploy the change"
        )
    execute = not args.no_execute
    doc.update(environment=env.name, region=manifest.region)
    if args.verb in {"promote", "abort"}:  # no lock: the deploy that paused may hold it
        return answer(args, say, progress, manifest, doc)
    if args.verb in {"status", "logs"}:  # they only read: no lock
        aws = Aws(manifest.region)
        preflight.credentials(aws.session, manifest.region)
        reachable(aws, manifest.stacks[0].stack_name)
        if args.verb == "logs":
            return logs(args, aws, manifest, say, doc)
        return status(aws, manifest, say, doc, args)
    holder = None
    if args.verb != "follow" and not lock_held:  # one change at a time: a second deploy says
        # who is deploying
        holder = lock.acquire(lock.deploy_lock_path(ROOT, env.name), f"deploy of {env.name}")
    aws = Aws(manifest.region)
    source = preflight.credentials(aws.session, manifest.region)
    reachable(aws, manifest.stacks[0].stack_name)
    endpoint = _emulator_endpoint(aws)
    doc.update(endpoint=endpoint or "aws")
    # Nobody can confirm without a terminal: a deploy without --yes shows every stack's plan,
    # then refuses, rather than stop at the first stack's question.
    unconfirmable = execute and not args.yes and not sys.stdin.isatty() and args.verb == "deploy"
    doing = {"deploy": "Deploying" if execute else "Planning"}.get(args.verb, args.verb)
    where = f" on {endpoint} (not AWS: no console links)" if endpoint else ""
    say(f"{doing.capitalize()} {env.name} in {manifest.region}{where} (credentials: {source})")
    if unconfirmable:
        execute = False
        say("  stdin is not a terminal and --yes was not given: every plan is shown, nothing runs")
    confirm = ask(progress) if sys.stdin.isatty() else refuse(say)
    options = Options(
        execute=execute,
        yes=args.yes,
        revision=git_revision(),
        confirm=confirm,
        environ=dict(os.environ),
        change_set_timeout=args.change_set_timeout * 60,
        follow_timeout=args.timeout * 60,
        show_review=(lambda r: say(render_review(r)))
        if progress is sys.stdout
        else (lambda _r: None),
        endpoint=endpoint,
        keep_plans=not unconfirmable,
        terminal=progress if progress.isatty() else None,
        revert_drift=args.revert_drift,
        confirm_each=args.confirm_each,
        concurrency=args.concurrency,
        output=output,
        before_stack=before_stack,
        answer_pause=not args.no_verify,
        smoke_seconds=args.smoke_timeout * 60,
    )
    deployer = Deployer(aws, manifest, options, say)
    started()
    try:
        # destroy finds its stacks itself (a removed service's are no longer in the manifest)
        specs = selected(manifest, args) if args.verb != "destroy" else []
        if args.verb in {"deploy", "plan"}:
            show_orphans(aws, manifest, say, doc)
        if args.verb == "destroy":
            return destroy(args, deployer, progress, say, results)
        if args.verb not in {"deploy", "plan", "rollback"}:  # plan: a deploy executing nothing
            operate(args, deployer, specs, confirm)
            return EXIT_OK
        try:
            if args.verb == "rollback":
                deployer = roll_back(aws, manifest, options, say, args.service)
            else:
                deployer.run(specs)
        except GraphFailed:  # the others ran to their end: the table says what each did
            summarize(deployer.results, say)
            raise
        finally:
            results.extend(deployer.results)
    finally:
        if holder is not None:
            holder.release()
    summarize(deployer.results, say)
    changed = any(r.outcome in CHANGED for r in deployer.results)
    if unconfirmable and changed:
        say(f"\nNot deployed: {REFUSAL}")
        doc["error"] = "not confirmed: stdin is not a terminal and --yes was not given"
        return EXIT_ERROR
    if not execute and changed:
        return EXIT_CHANGES
    if execute:
        after_deploy(args, deployer, doc)
    return EXIT_OK


def show_orphans(aws: Any, manifest: Any, say: Callable[[str], None], doc: dict) -> None:
    """The stacks of services no longer in the environment file, shown with the plan (a role
    that may not list the account's stacks gets a note, not a failed plan)."""
    from botocore.exceptions import ClientError

    from deployer import orphans

    try:
        found = orphans.find(aws.cloudformation, manifest)
    except ClientError as error:
        say(f"  note: orphaned stacks not looked for: {str(error).strip()}")
        doc["orphans"] = None
        return
    for line in orphans.lines(found, manifest):
        say(line)
    doc["orphans"] = [orphan.to_dict() for orphan in found]


def selected(manifest: Any, args: argparse.Namespace) -> list[Any]:
    """The stacks --service and --stack choose, in the manifest's order. --service NAME: that
    service's stacks and the shared ones (a shared stack that does not change is a plan of
    no changes, nothing more)."""
    from deployer.errors import DeployError

    specs = manifest.select(args.stack)
    if not args.service:
        return list(specs)
    known = sorted({spec.service for spec in manifest.stacks if spec.service})
    unknown = sorted(set(args.service) - set(known))
    if unknown:
        raise DeployError(
            f"no service {', '.join(unknown)} in environments/{manifest.environment}.toml: "
            f"its services are {', '.join(known) or 'none (no [services.NAME] table)'}"
        )
    return [spec for spec in specs if spec.service is None or spec.service in args.service]


def destroy(
    args: argparse.Namespace,
    deployer: Any,
    progress: TextIO,
    say: Callable[[str], None],
    results: list[Any],
) -> int:
    """Delete the environment's stacks (or --service's) after their review."""
    from deployer import destroy as verb
    from deployer.errors import Declined

    def refuse(_question: str) -> str:
        raise Declined(
            "nothing deleted: stdin is not a terminal, so nobody can type the environment's "
            "name. Pass --yes (make destroy ENV=NAME YES=1, ENV named on the command line)."
        )

    try:
        verb.run(deployer, args.service, typed(progress) if sys.stdin.isatty() else refuse)
    finally:
        results.extend(deployer.results)
    summarize(deployer.results, say)
    return EXIT_OK


def roll_back(
    aws: Any,
    manifest: Any,
    options: Any,
    say: Callable[[str], None],
    services: list[str] | None,
) -> Any:
    """The rollback of one service (--service NAME; none: the environment's only one)."""
    from deployer import rollback
    from deployer.errors import DeployError

    if services and len(set(services)) > 1:
        raise DeployError(
            f"a rollback is of one service at a time, not {', '.join(sorted(set(services)))}: "
            "run one make rollback SERVICE=NAME for each"
        )
    return rollback.run(aws, manifest, options, say, services[0] if services else None)


def after_deploy(args: argparse.Namespace, deployer: Any, doc: dict) -> None:
    """The rollout, alarms, paging and smoke check of every service stack deployed; the JSON's
    after_deploy lists them all, those that failed their checks too."""
    from deployer import postdeploy

    checks = postdeploy.Checks(
        verify=not args.no_verify,
        smoke_seconds=args.smoke_timeout * 60,
        missing_alarms_known=args.emulator_limits_said,
    )
    kind = "rollback" if args.verb == "rollback" else "deploy"
    doc["after_deploy"] = []
    postdeploy.run(deployer, checks, kind, doc["after_deploy"])


def answer(
    args: argparse.Namespace,
    say: Callable[[str], None],
    progress: TextIO,
    manifest: Any,
    doc: dict,
) -> int:
    """promote or abort the deployment of --service NAME (exactly one)."""
    from deployer import preflight, promote
    from deployer.errors import Declined, DeployError
    from deployer.session import Aws

    names = sorted(set(args.service or []))
    if len(names) != 1:
        raise DeployError(
            f"{args.verb} acts on one service's deployment: name it with --service NAME "
            f"(make {args.verb} SERVICE=NAME)" + (f", not {', '.join(names)}" if names else "")
        )
    aws = Aws(manifest.region)
    preflight.credentials(aws.session, manifest.region)
    reachable(aws, manifest.stacks[0].stack_name)

    def refuse(_question: str) -> bool:
        raise Declined(
            f"not done: stdin is not a terminal, so nobody can confirm. Pass --yes "
            f"(make {args.verb} SERVICE={names[0]} YES=1)"
        )

    confirm = (lambda _q: True) if args.yes else ask(progress) if sys.stdin.isatty() else refuse
    doc["deployment"] = promote.run(aws, manifest, names[0], args.verb, confirm, say)
    return EXIT_OK


def status(
    aws: Any, manifest: Any, say: Callable[[str], None], doc: dict, args: argparse.Namespace
) -> int:
    """Every deployed service (--service NAME: that one), read only: no lock, no change.
    Markdown is rendered by main() from the document, as for every verb."""
    from deployer import service_status

    selected(manifest, args)  # an unknown --service is refused, naming the known ones
    found = service_status.collect(aws, manifest, git_revision(), args.service)
    for service in found["services"]:
        if service["deployed"] and args.emulator_limits_said:
            service["verify"]["missing_known"] = True
    doc["status"] = found
    if args.output == "text":
        say(service_status.render_text(found))
    return EXIT_OK


def logs(
    args: argparse.Namespace, aws: Any, manifest: Any, say: Callable[[str], None], doc: dict
) -> int:
    """The service stack's log groups: what was logged since --since, then (--follow) what
    comes, until Ctrl-C."""
    from deployer import logs as tail
    from deployer import rollback
    from deployer.errors import DeployError
    from deployer.params import Resolver

    try:
        since = tail.since_seconds(args.since)
    except tail.LogsError as error:
        raise DeployError(str(error)) from None
    from deployer.params import UpstreamMissing

    spec = rollback.image_stack(manifest, args.service[0] if args.service else None, "logs")
    try:
        physical = Resolver(aws.cloudformation, manifest, {}, aws.client).physical_ids(spec.key)
    except UpstreamMissing:
        physical = {}
    groups = tail.log_groups(spec.template, physical)
    if not groups:
        raise DeployError(
            f"{spec.stack_name} has no log group deployed: "
            f"make deploy ENV={manifest.environment} first"
        )
    client = aws.client("logs")
    shown = print if args.output == "text" else (lambda _line: None)
    seen = tail.show(client, groups, since, shown)
    doc.update(log_groups=groups, events=[e.to_dict() for e in seen])
    if args.follow:
        from botocore.config import Config

        once = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=300)
        live = aws.session.create_client("logs", region_name=aws.region, config=once)
        tail.follow(client, groups, seen, lambda line: print(line, flush=True), live=live)
    elif not seen:
        say(f"(nothing logged in {', '.join(groups)} in the last {args.since})")
    return EXIT_OK


def reachable(aws: Any, stack_name: str) -> None:
    """Where AWS_ENDPOINT_URL (or a service's) sends us elsewhere than AWS, something must
    answer there: one quick call without botocore's retries, so that an emulator that is not
    running is one line at once, not a traceback after a minute of retries. AWS's own
    endpoints are not probed (their first real call says the same, at no extra cost). The
    call is one the verb makes anyway (DescribeStacks of one of its stacks), so the deploy and
    plan roles allow it."""
    from botocore.config import Config
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    from deployer.errors import DeployError

    endpoint = _emulator_endpoint(aws)
    if endpoint is None:
        return
    quick = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1})
    probe = aws.session.create_client("cloudformation", region_name=aws.region, config=quick)
    try:
        probe.describe_stacks(StackName=stack_name)
    except (EndpointConnectionError, ConnectTimeoutError):
        raise DeployError(
            f"nothing answers at {endpoint} (AWS_ENDPOINT_URL): start the emulator there "
            "(make local-up, or make deploy, which starts one) or unset AWS_ENDPOINT_URL "
            "to reach AWS"
        ) from None
    except ClientError:  # it answered (a refusal is an answer); the real calls will say more
        return


def _emulator_endpoint(aws: Any) -> str | None:
    """CloudFormation's endpoint when it is not AWS's (an emulator, a proxy), else None."""
    from deployer.review import is_aws_endpoint

    endpoint = str(aws.cloudformation.meta.endpoint_url)
    return None if is_aws_endpoint(endpoint) else endpoint


def operate(
    args: argparse.Namespace, deployer: Any, specs: list[Any], confirm: Callable[[str], bool]
) -> None:
    """follow, cancel or continue-rollback on each chosen stack, in the manifest's order."""
    from deployer import operate as verbs

    for spec in specs:
        deployer.say(f"== {spec.stack_name}")
        if args.verb == "follow":
            verbs.follow(deployer, spec)
        elif args.verb == "cancel":
            verbs.cancel(deployer, spec, (lambda _q: True) if args.yes else confirm)
        else:
            verbs.continue_rollback(deployer, spec, args.skip)


def started() -> None:
    """Start-up is over (modules imported, the CloudFormation client made): what it made lives
    until exit. If the entry point paused the collector for start-up, freeze all that (the
    collector would only walk it again and again; start-up's few hundred garbage objects stay)
    and collect what the deploy makes from here on, however long it follows a stack."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def render_review(shown: Any) -> str:
    from deployer import review_text

    return review_text.render(shown)


def summarize(results: list[Any], say: Callable[[str], None], notices: bool = True) -> None:
    """Each stack's outcome, then the outputs; how they were read is said once, at the end
    (`notices`: unless an earlier pass of this run said it)."""
    from deployer import outputs

    say("")
    for result in results:  # every stack of the run, in the manifest's order, and its outcome
        extra = f" ({result.note.splitlines()[0]})" if result.note else ""
        say(f"{result.stack_name}: {result.outcome}{extra}")
    evaluated = []
    for result in results:  # only an execution reads outputs
        if result.outputs:
            say(outputs.render_text(result.stack_name, result.outputs, note=False))
            if any(o.source == outputs.FROM_RESOURCES for o in result.outputs):
                evaluated.append(result.stack_name)
    if evaluated and notices:
        stacks = ", ".join(evaluated)
        say(f"(DescribeStacks returned no Outputs for {stacks}: {outputs.FROM_RESOURCES})")


def report_error(error: Exception, say: Callable[[str], None], doc: dict) -> int:
    from deployer.errors import (
        DeployError,
        DeployFailed,
        FollowInterrupted,
        Interrupted,
        ManifestError,
        StoppedFollowing,
    )
    from environments import ConfigError

    if isinstance(error, FollowInterrupted | Interrupted):
        say(f"\n{error}")
        doc["error"] = (
            "interrupted while following" if isinstance(error, FollowInterrupted) else str(error)
        )
        return EXIT_INTERRUPTED
    if isinstance(error, StoppedFollowing):
        say(f"\nSTOPPED FOLLOWING: {error}")
        doc["error"] = str(error)
        return EXIT_ERROR
    if isinstance(error, DeployFailed):
        say(f"\nDEPLOY FAILED: {error}")
        for line in error.report:
            say(f"  {line}")
        doc["error"] = str(error)
        doc["report"] = error.report
        return EXIT_ERROR
    if isinstance(error, ConfigError | DeployError | ManifestError):
        say(f"error: {error}")
        doc["error"] = str(error)
        return EXIT_ERROR
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    from deployer.preflight import credentials_problem
    from deployer.status import error_line, is_credentials_error

    if is_credentials_error(error):
        say(f"error: {credentials_problem(doc.get('region', '?'), error)}")
        doc["error"] = str(error)
        return EXIT_ERROR
    if isinstance(error, ClientError | BotoCoreError | ResponseParserError):
        say(f"error: AWS said: {error_line(error)}")
        doc["error"] = str(error)
        return EXIT_ERROR
    raise error


if __name__ == "__main__":
    import gc

    # Start-up makes ~60,000 objects (botocore's modules, models and client) that live until
    # exit. Collecting while they are made walks them over and over, and Python's exit walks
    # them all again, several times: together over 0.1 s of a run. So the collector waits
    # for started(), and at exit there is nothing left for it to do.
    gc.disable()
    code = main()
    gc.freeze()
    sys.exit(code)
