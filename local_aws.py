"""The local AWS for `make deploy ENV=local`: moto's server on 127.0.0.1, and what a real
account would already have. Used only by the Makefile's local flow, never by deployer/.

    python local_aws.py up       # start the emulator unless AWS_ENDPOINT_URL is set or it runs
    python local_aws.py deploy [deploy.py options]   # up, bootstrap, deploy (push stand-in)
    python local_aws.py plan   [deploy.py options]   # up, bootstrap, deploy.py --no-execute
    python local_aws.py status   # deploy.py status on the emulator (likewise rollback, follow...)
    python local_aws.py stop     # stop the emulator this started (by its recorded PID)

Bootstrap creates what an account has before our stacks exist, through the public APIs only:
the hosted zone, the SSM parameters the stacks read, and, for an environment that finds its
certificate by domain (`[tls] find_certificate = true`), a self-signed certificate for the
domain imported into ACM unless an ISSUED one already covers it (the deployer then finds it
as it would an account's own; moto's ELBv2 checks that the listener's certificate exists).
There is no Docker engine here: once the registry stack exists, the image tag is registered
in the emulator's ECR with put_image (standing in for `make push`), so the deployer's image
check passes because the image is there.

Two at once: the emulator is checked, started, stopped and bootstrapped under a lock
(.local/moto.lock; the second one waits), and a deploy or plan holds the environment's deploy
lock, the one deploy.py takes, across its deploy.py runs (each takes it over), so a second
deploy stops at once and says who is deploying. Ctrl-C while deploy.py runs is deploy.py's to
handle and report (it is in our process group); we pass on its exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import local_conformance
from deployer import lock, parallel
from local_proxy import Relay

ROOT = Path(__file__).resolve().parent
STATE = Path(os.environ.get("LOCAL_AWS_STATE_DIR", ROOT / ".local"))
PID_FILE = STATE / "moto.pid"
LOG_FILE = STATE / "moto.log"
LOCK_FILE = STATE / "moto.lock"
# Written once the emulator's known limits were said in full (the alarms moto does not create);
# removed with the emulator, whose state goes with it.
KNOWN_LIMITS = STATE / "moto.limits-said"
DEFAULT_PORT = int(os.environ.get("LOCAL_AWS_PORT", "5050"))
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
EXIT_INTERRUPTED = 130
# The tag on the certificates bootstrap imports, so that a person can tell them apart.
CERTIFICATE_TAG = "scalable-app:local"


# Bootstrap's steps run side by side: whole lines. Reentrant: a Ctrl-C that lands while the
# main thread holds it must not leave its own "interrupted" line waiting for it forever.
_SAYING = threading.RLock()


def say(line: str) -> None:
    """Progress, on stderr: deploy.py's stdout may be a JSON document for a machine."""
    with _SAYING:
        print(f"[local-aws] {line}", file=sys.stderr, flush=True)


# ---- the emulator process ------------------------------------------------------------------


def answers(endpoint: str) -> bool:
    """Something that speaks moto's API answers at endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def endpoint_answers(endpoint: str) -> bool:
    """Any HTTP answer at all (an emulator's refusal is an answer); quick, no retries."""
    try:
        with urllib.request.urlopen(endpoint, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def emulator_lock() -> lock.Lock:
    """Held while the emulator is checked, started or stopped and its account bootstrapped,
    so that two local_aws.py at once start one emulator and create each thing once."""
    what = "start of the local emulator"
    try:
        return lock.acquire(LOCK_FILE, what)
    except lock.Locked as busy:
        say(f"waiting for {busy.holder}, which is starting or preparing the emulator")
        return lock.acquire(LOCK_FILE, what, wait=True)


def up(port: int) -> str:
    """The endpoint to use: AWS_ENDPOINT_URL if set, else ours (started if nothing answers).
    Called holding emulator_lock()."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    endpoint = f"http://127.0.0.1:{port}"
    if usable(port, endpoint):
        return endpoint
    ours_elsewhere(port)
    STATE.mkdir(parents=True, exist_ok=True)
    # The checkout is on the command line: whoever finds the port taken can tell whose it is.
    command = [sys.executable, str(ROOT / "local_aws.py"), "serve", "--port", str(port)]
    command += ["--checkout", str(ROOT)]
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 15
    while not answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()  # ours, and only ours: nothing of another emulator is touched
            process.wait()
            sys.exit(f"[local-aws] the emulator did not start on port {port}; see {LOG_FILE}")
        time.sleep(0.1)
    PID_FILE.write_text(f"{process.pid}\n")
    KNOWN_LIMITS.unlink(missing_ok=True)  # a new emulator: its limits not said yet
    say(f"moto server started on {endpoint} (PID {process.pid}; make local-stop stops it)")
    return endpoint


# ---- whose emulator (issue 17) ----------------------------------------------------------------


def port_holder(port: int) -> tuple[int | None, str]:
    """The process listening on 127.0.0.1:port (or all addresses) and its command line, read
    from /proc (Linux); (None, "") when nothing listens, (None, "?") when it cannot be told."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    if not inodes:
        return None, ""
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in sockets for fd in (proc / "fd").iterdir()):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                return int(proc.name), cmdline.strip()
        except OSError:  # another user's process, or gone meanwhile
            continue
    return None, "?"


def checkout_of(cmdline: str) -> Path | None:
    """The checkout whose local_aws.py serves, from its command line."""
    words = cmdline.split()
    if "serve" not in words:
        return None
    if "--checkout" in words[:-1]:
        return Path(words[words.index("--checkout") + 1])
    script = next((w for w in words if w.endswith("local_aws.py")), None)
    return Path(script).resolve().parent if script else None


def usable(port: int, endpoint: str) -> bool:
    """The emulator on `port` is this checkout's (or one nobody owns that answers): use it.
    Another checkout's, or a port some other program holds, stops us with whose it is."""
    pid, cmdline = port_holder(port)
    if pid is None and cmdline == "":
        return False  # nothing listens: start ours
    owner = checkout_of(cmdline)
    if owner is not None and owner.resolve() != ROOT:
        sys.exit(
            f"[local-aws] the emulator on 127.0.0.1:{port} belongs to the checkout {owner} "
            f"(PID {pid}): deploying from here would change its stacks. Use another port "
            f"(make deploy LOCAL_AWS_PORT={port + 1}), or stop it there "
            f"(make -C {owner} local-stop LOCAL_AWS_PORT={port})"
        )
    if answers(endpoint):
        return True
    who = f"PID {pid} ({cmdline[:120]})" if pid else "a process we cannot see"
    sys.exit(
        f"[local-aws] port {port} is in use by {who}, not an emulator: choose another port "
        f"(LOCAL_AWS_PORT={port + 1}); nothing was started or stopped"
    )


def ours_elsewhere(port: int) -> None:
    """This checkout's emulator already runs on another port: one per checkout (its PID file
    is the one make local-stop reads)."""
    try:
        pid = int(PID_FILE.read_text())
    except (OSError, ValueError):
        return
    for listening in listening_ports(pid):
        if listening != port:
            sys.exit(
                f"[local-aws] this checkout's emulator runs on port {listening} (PID {pid}): "
                f"use LOCAL_AWS_PORT={listening}, or make local-stop "
                f"LOCAL_AWS_PORT={listening} first"
            )


def listening_ports(pid: int) -> list[int]:
    """The TCP ports process `pid` listens on, if it is still a local_aws.py serve."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return []
    if "local_aws.py" not in cmdline or "serve" not in cmdline:
        return []
    words = cmdline.split("\0")
    return [int(words[words.index("--port") + 1])] if "--port" in words else []


def attach(port: int) -> str | None:
    """For the verbs that only read (status, logs): the emulator's endpoint if one answers,
    never started, no lock taken (a read-only checkout can run them)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{port}"
    return endpoint if answers(endpoint) or os.environ.get("AWS_ENDPOINT_URL") else None


def stop() -> int:
    """Stop the emulator up() started. Called holding emulator_lock()."""
    if not PID_FILE.exists():
        say("no emulator started by this checkout is recorded")
        return 0
    pid = int(PID_FILE.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        cmdline = ""
    if "local_aws.py" in cmdline:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        say(
            f"stopped the emulator (PID {pid}): its state is lost (moto keeps it in memory: "
            "every stack, image and parameter it held); the next make deploy starts afresh"
        )
        KNOWN_LIMITS.unlink(missing_ok=True)
    else:
        say(f"PID {pid} is no longer our emulator; nothing to stop")
    PID_FILE.unlink(missing_ok=True)
    return 0


def serve(port: int) -> None:
    """Run moto's server in this process (on a free port of 127.0.0.1) behind the conformance
    proxy on `port` (local_conformance.py: AWS's rules moto does not enforce), until SIGTERM."""
    from moto.server import ThreadedMotoServer

    # moto's documented setting for the tasks an ECS service reports running (0 otherwise,
    # a rollout that never ends): local.toml runs one task.
    os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, moto_port = server.get_host_and_port()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with conformant(f"http://{host}:{moto_port}", port):
        done.wait()
    server.stop()


def conformant(endpoint: str, port: int = 0) -> Relay:
    """The conformance proxy in front of the emulator at `endpoint`, on `port` (0: a free
    one); serving while in `with`."""
    return Relay(
        endpoint,
        local_conformance.hook(endpoint),
        port,
        name="conformance-proxy",
        rewrite=local_conformance.bridge(endpoint),
    )


def enforcing(endpoint: str) -> str:
    """An endpoint that enforces AWS's rules: `endpoint` when it is our proxy already, else a
    proxy in front of it (a person's own moto), serving until this process ends."""
    if local_conformance.is_proxy(endpoint):
        return endpoint
    relay = conformant(endpoint).__enter__()  # a daemon thread: it goes with the process
    say(f"AWS's rules (capabilities, template size) enforced by a proxy at {relay.url}")
    return relay.url


# ---- what a real account already has -------------------------------------------------------


def bootstrap(manifest: Any, aws: Any) -> None:
    """Create what the stacks expect the account to have, unless it is there already (an
    earlier run made it). Called holding emulator_lock(). The three, and the deploy's first
    CloudFormation read, are independent, and on a fresh emulator each service's first call
    is slow (moto sets up its backend: ~1 s for SSM), so they are made side by side, each
    with its service's own client."""
    steps: list[Callable[[], None]] = []
    if manifest.hosted_zone_name:
        steps.append(lambda: hosted_zone(aws.client("route53"), manifest.hosted_zone_name))
    if manifest.ssm_parameters:
        steps.append(lambda: ssm_parameters(aws.client("ssm"), manifest.ssm_parameters))
    certificate = manifest.certificate
    if certificate is not None and certificate.arn is None:  # found by domain at deploy time
        steps.append(lambda: issued_certificate(aws.client("acm"), certificate.domain))
    steps.append(lambda: first_read(aws.client("cloudformation"), manifest.stacks[0].stack_name))
    parallel.each(steps, "bootstrap")  # the first that failed, in this order, is raised


def first_read(cf: Any, stack_name: str) -> None:
    """The deploy's first CloudFormation call (deploy.py's reachable(): DescribeStacks of the
    first stack), made once beside the bootstrap: a fresh moto sets up its CloudFormation
    backend on its first call (~0.5 s), which the deploy would otherwise wait for alone. The
    answer is not used (the deploy reads the stacks itself); a refusal is not ours to report."""
    from botocore.exceptions import ClientError

    with contextlib.suppress(ClientError):
        cf.describe_stacks(StackName=stack_name)


def hosted_zone(route53: Any, name: str) -> None:
    from deployer.params import find_hosted_zone

    if find_hosted_zone(route53, name) is not None:
        return
    try:
        route53.create_hosted_zone(Name=name, CallerReference=f"local-{name}")
    except route53.exceptions.HostedZoneAlreadyExists:  # our caller reference: made already
        return
    say(f"created hosted zone {name}")


def ssm_parameters(ssm: Any, parameters: dict[str, str]) -> None:
    for name, what in parameters.items():
        value = f"https://events.pagerduty.com/integration/local/enqueue ({what})"
        try:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=False)
        except ssm.exceptions.ParameterAlreadyExists:
            continue
        say(f"created SSM parameter {name}")


def issued_certificate(acm: Any, domain: str) -> None:
    """An ISSUED certificate that covers `domain`: the one there is, else a self-signed one,
    imported (moto issues none: a requested certificate stays PENDING_VALIDATION)."""
    from deployer.params import find_certificate

    if find_certificate(acm, domain) is not None:
        return
    certificate, private_key = self_signed(domain)
    arn = acm.import_certificate(
        Certificate=certificate,
        PrivateKey=private_key,
        Tags=[{"Key": CERTIFICATE_TAG, "Value": domain}],
    )["CertificateArn"]
    say(f"imported a self-signed certificate for {domain} into the emulator's ACM ({arn})")


def self_signed(domain: str, days: int = 365) -> tuple[bytes, bytes]:
    """A PEM certificate for `domain` (its one SAN) and its RSA 2048 key, valid `days`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # a little clock skew
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def push_stand_in(manifest: Any, ecr: Any) -> None:
    """Register every service's image tag in the emulator's ECR (no Docker engine here)."""
    images = {service.image for service in manifest.services if service.image is not None}
    for image in sorted(images, key=lambda image: (image.repository_name, image.tag)):
        _register(image, ecr)


def _register(image: Any, ecr: Any) -> None:
    config = {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 2,
        "digest": "sha256:" + "0" * 64,
    }
    body = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": config,
        "layers": [],
        "annotations": {"org.opencontainers.image.revision": image.tag},
    }
    try:
        ecr.put_image(
            repositoryName=image.repository_name, imageManifest=json.dumps(body), imageTag=image.tag
        )
    except ecr.exceptions.ImageAlreadyExistsException:
        return
    say(
        f"registered {image.repository_name}:{image.tag} in the emulator's ECR "
        "(stands in for make push)"
    )


# ---- the flows -----------------------------------------------------------------------------


def prepare(port: int, manifest: Any) -> tuple[Any, dict[str, str]]:
    """One deployer session on the emulator, its account bootstrapped, and the environment
    for deploy.py."""
    from deployer.errors import DeployError
    from deployer.session import Aws

    with emulator_lock():
        started_here = not os.environ.get("AWS_ENDPOINT_URL")
        endpoint = up(port)
        if not endpoint_answers(endpoint):
            raise DeployError(
                f"nothing answers at {endpoint} (AWS_ENDPOINT_URL): start the emulator there, "
                f"or unset AWS_ENDPOINT_URL and this starts one on 127.0.0.1:{port}"
            )
        if not started_here:  # a person's own emulator: AWS's rules in front of it too
            endpoint = enforcing(endpoint)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = manifest.region
        if started_here or not os.environ.get("AWS_ACCESS_KEY_ID"):
            os.environ.pop("AWS_PROFILE", None)
            os.environ.update(DUMMY_CREDENTIALS)
        for spec in manifest.stacks:  # NoEcho values a real deploy reads from the caller's env
            for var in spec.parameters_from_env.values():
                os.environ.setdefault(var, f"local-placeholder-for-{var.lower()}")
        aws = Aws(manifest.region)  # after the variables above: it resolves from them
        bootstrap(manifest, aws)
    return aws, dict(os.environ)


def deploy_py(args: list[str], env: dict[str, str], stdout: Any = None) -> int:
    """Run deploy.py and return its exit status (130 after a Ctrl-C). The deploy lock this
    process holds goes with it when `env` names its descriptor (lock.LOCK_FD_VAR).

    While it runs, Ctrl-C is deploy.py's: it is in our process group, so the terminal's
    SIGINT reaches it, and it cleans up and reports. We only wait, under a handler that does
    nothing: SIG_IGN would be inherited across exec and leave deploy.py deaf to Ctrl-C (Python
    installs its own handler only where SIGINT is not ignored); a handler is reset by exec."""
    held = env.get(lock.LOCK_FD_VAR)
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        code = subprocess.run(
            [sys.executable, str(ROOT / "deploy.py"), *args],
            env=env,
            pass_fds=(int(held),) if held else (),
            stdout=stdout,
        ).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says


def stack_args(specs: Any) -> list[str]:
    return [arg for spec in specs for arg in ("--stack", spec.key)]


# deploy.py's verbs on what is deployed (make follow, cancel, continue-rollback, status, rollback,
# destroy)
VERBS: tuple[str, ...] = ("follow", "cancel", "continue-rollback", "status", "rollback", "logs")
VERBS += ("destroy", "promote", "abort")  # promote, abort: a progressive service's deployment
READ_ONLY = ("status", "logs")  # no lock, no emulator started, no bootstrap: they only read


def read_only(command: str, port: int, manifest: Any, common: list[str], rest: list[str]) -> int:
    """status and logs on the emulator that runs; when none does, say so (starting one would
    show an empty account, and write to the checkout)."""
    endpoint = attach(port)
    if endpoint is None:
        why = (
            f"no emulator runs on 127.0.0.1:{port}, so nothing is deployed locally: "
            "make deploy starts one and deploys"
        )
        say(why)
        if output_of(rest) == "json":  # stdout is still one JSON document
            print(json.dumps({"mode": command, "error": why, "exit_code": 1}, indent=2))
        return 1
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint)
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = manifest.region
    if not env.get("AWS_ACCESS_KEY_ID"):
        env.pop("AWS_PROFILE", None)
        env.update(DUMMY_CREDENTIALS)
    return deploy_py([command, *common, *limits(rest)], env)


def output_of(rest: list[str]) -> str:
    """The --output deploy.py is given, text by default."""
    return next((b for a, b in itertools.pairwise(rest) if a == "--output"), "text")


def limits(rest: list[str]) -> list[str]:
    """deploy.py's options, plus: the emulator's known limits were said in full already."""
    return [*rest, "--emulator-limits-said"] if KNOWN_LIMITS.exists() else rest


def limits_said(code: int) -> None:
    """After a deploy that got to its checks, its known limits are said for this emulator
    (a checkout that cannot be written to says them every time)."""
    if code == 0:
        with contextlib.suppress(OSError):
            KNOWN_LIMITS.touch()


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except KeyboardInterrupt:  # in our own steps (deploy.py reports its own)
        print("[local-aws] interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "stop", "serve", "deploy", "plan", *VERBS))
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--env", default="local")
    parser.add_argument("--build-dir", type=Path)
    parser.add_argument("--stack", action="append", help="passed on to deploy.py")
    parser.add_argument("--checkout", help="serve: the checkout that started it (recorded only)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        serve(args.port)
        return 0
    if args.command == "stop":
        with emulator_lock():
            return stop()
    if args.command == "up":
        with emulator_lock():
            endpoint = up(args.port)
        print(f"[local-aws] AWS_ENDPOINT_URL={endpoint}", flush=True)  # what `up` answers
        return 0
    from deployer import manifest as manifests
    from deployer.errors import DeployError, ManifestError

    try:
        manifest = manifests.load(args.build_dir or ROOT / "build" / args.env)
        chosen = manifest.select(args.stack)
        name = manifest.environment
        common = ["--env", args.env]
        common += ["--build-dir", str(args.build_dir)] if args.build_dir else []
        if args.command in READ_ONLY:
            return read_only(args.command, args.port, manifest, common, rest)
        if args.command in VERBS:  # deploy.py's verbs on an operation under way take the lock
            _, env = prepare(args.port, manifest)  # themselves, where they change anything
            stacks = [] if args.command == "destroy" else stack_args(chosen)  # it finds its own
            return deploy_py([args.command, *common, *stacks, *limits(rest)], env)
        with lock.acquire(lock.deploy_lock_path(ROOT, name), f"deploy of {name}"):
            aws, _ = prepare(args.port, manifest)
            asked = stack_args(chosen) if args.stack else []
            if args.command == "plan":
                import deploy as deploy_cli

                return deploy_cli.main([*common, "--no-execute", *asked, *rest], lock_held=True)
            code = deploy(manifest, aws, [*common, *asked, *limits(rest)])
            limits_said(code)
            return code
    except (DeployError, ManifestError) as error:
        print(f"[local-aws] error: {error}", file=sys.stderr)
        return 1


def deploy(manifest: Any, aws: Any, argv: list[str]) -> int:
    """One deploy.py run, in this process (it holds the deploy lock): the image the stacks run
    is registered (standing in for make push) just before the first stack that runs it is
    planned, once its repository exists. On a fresh emulator the registry is created first and
    the service planned after it, within the one run: one question for the whole deploy."""
    import deploy as deploy_cli

    hook = registrar(manifest, aws.client("ecr"))
    return deploy_cli.main(argv, before_stack=hook, lock_held=True)


def registrar(manifest: Any, ecr: Any) -> Callable[[Any], None]:
    """deploy.py's before_stack hook: before a stack that runs the image, register the image
    if its repository exists and lacks the tag. Stacks may be planned from several threads;
    the image is registered once."""
    from deployer import preflight

    guard, done = threading.Lock(), threading.Event()

    def before_stack(spec: Any) -> None:
        image = manifest.image_of(spec)
        if image is None:  # a shared stack, or a service whose file names an image URI
            return
        with guard:
            if done.is_set():
                return
            state = preflight.image_state(ecr, image.repository_name, image.tag)
            if state == preflight.IMAGE_PRESENT:
                say(f"{image.repository_name}:{image.tag} is already in the emulator's ECR")
            elif state == preflight.TAG_MISSING:
                push_stand_in(manifest, ecr)  # every service's image: one registry holds them
            else:  # its registry is not deployed yet: the stack's own check says so
                return
            done.set()

    return before_stack


if __name__ == "__main__":
    sys.exit(main())
