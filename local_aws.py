"""The local AWS for `make deploy ENV=local`: moto's server on 127.0.0.1, and what a real
account would already have. Used only by the Makefile's local flow, never by deployer/.

    python local_aws.py up       # start the emulator unless AWS_ENDPOINT_URL is set or it runs
    python local_aws.py deploy [deploy.py options]   # up, bootstrap, deploy (push stand-in)
    python local_aws.py plan   [deploy.py options]   # up, bootstrap, deploy.py --no-execute
    python local_aws.py stop     # stop the emulator this started (by its recorded PID)

Bootstrap creates what an account has before our stacks exist: the hosted zone, the SSM
parameters the stacks read, and the TLS certificate the environment names (moto's ELBv2
checks that it exists; the emulator cannot import one under a given ARN, so `serve` seeds it
in the server's own process). There is no Docker engine here: once the registry stack exists,
the image tag is registered in the emulator's ECR with put_image (standing in for `make push`),
so the deployer's image check passes because the image is there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
STATE = Path(os.environ.get("LOCAL_AWS_STATE_DIR", ROOT / ".local"))
PID_FILE = STATE / "moto.pid"
LOG_FILE = STATE / "moto.log"
DEFAULT_PORT = int(os.environ.get("LOCAL_AWS_PORT", "5050"))
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def say(line: str) -> None:
    print(f"[local-aws] {line}", flush=True)


# ---- the emulator process ------------------------------------------------------------------


def answers(endpoint: str) -> bool:
    """Something that speaks moto's API answers at endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def up(port: int, env_name: str) -> str:
    """The endpoint to use: AWS_ENDPOINT_URL if set, else ours (started if nothing answers)."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    endpoint = f"http://127.0.0.1:{port}"
    if answers(endpoint):
        return endpoint
    STATE.mkdir(exist_ok=True)
    command = [sys.executable, str(ROOT / "local_aws.py"), "serve", "--port", str(port)]
    certificate = _certificate(env_name)
    if certificate:
        command += ["--certificate", f"{certificate[0]}={certificate[1]}"]
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    PID_FILE.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 15
    while not answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            PID_FILE.unlink(missing_ok=True)
            sys.exit(f"[local-aws] the emulator did not start on port {port}; see {LOG_FILE}")
        time.sleep(0.1)
    say(f"moto server started on {endpoint} (PID {process.pid}; make local-stop stops it)")
    return endpoint


def stop() -> int:
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
        say(f"stopped the emulator (PID {pid})")
    else:
        say(f"PID {pid} is no longer our emulator; nothing to stop")
    PID_FILE.unlink(missing_ok=True)
    return 0


def serve(port: int, certificates: list[str]) -> None:
    """Run moto's server in this process (bound to 127.0.0.1) until SIGTERM."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for item in certificates:
        arn, domain = item.split("=", 1)
        seed_certificate(arn, domain)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()


def seed_certificate(arn: str, domain: str) -> None:
    """Put an issued certificate at exactly `arn` into the in-process moto ACM backend."""
    from moto.acm.models import CertBundle, acm_backends

    _, _partition, _, region, account, _ = arn.split(":", 5)
    bundle = CertBundle.generate_cert(domain, account_id=account, region=region)
    bundle.arn = arn
    bundle.status = "ISSUED"
    acm_backends[account][region]._certificates[arn] = bundle


def _certificate(env_name: str) -> tuple[str, str] | None:
    import environments

    env = environments.load(env_name)
    if env.tls.certificate_arn is None:
        return None
    return env.tls.certificate_arn, env.dns.domain_name


# ---- what a real account already has -------------------------------------------------------


def bootstrap(manifest: Any, aws: Any) -> None:
    from deployer.params import find_hosted_zone

    if manifest.hosted_zone_name:
        route53 = aws.client("route53")
        name = manifest.hosted_zone_name
        if find_hosted_zone(route53, name) is None:
            route53.create_hosted_zone(Name=name, CallerReference=f"local-{name}")
            say(f"created hosted zone {name}")
    ssm = aws.client("ssm")
    for name, what in manifest.ssm_parameters.items():
        try:
            ssm.get_parameter(Name=name)
        except ssm.exceptions.ParameterNotFound:
            value = f"https://events.pagerduty.com/integration/local/enqueue ({what})"
            ssm.put_parameter(Name=name, Value=value, Type="String")
            say(f"created SSM parameter {name}")


def push_stand_in(manifest: Any, ecr: Any) -> None:
    """Register the image tag in the emulator's ECR (no Docker engine here)."""
    image = manifest.image
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


def prepare(port: int, env_name: str, build_dir: Path | None) -> tuple[Any, Any, dict[str, str]]:
    """The manifest, one deployer session on the emulator, and the environment for deploy.py."""
    from deployer import manifest as manifests
    from deployer.session import Aws

    manifest = manifests.load(build_dir or ROOT / "build" / env_name)
    endpoint = up(port, env_name)
    started_here = not os.environ.get("AWS_ENDPOINT_URL")
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
    return manifest, aws, dict(os.environ)


def deploy_py(args: list[str], env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, str(ROOT / "deploy.py"), *args], env=env).returncode


def stack_args(specs: Any) -> list[str]:
    return [arg for spec in specs for arg in ("--stack", spec.key)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "stop", "serve", "deploy", "plan"))
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--certificate", action="append", default=[], help="ARN=domain (serve)")
    parser.add_argument("--env", default="local")
    parser.add_argument("--build-dir", type=Path)
    parser.add_argument("--stack", action="append", help="passed on to deploy.py")
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        serve(args.port, args.certificate)
        return 0
    if args.command == "stop":
        return stop()
    if args.command == "up":
        say(f"AWS_ENDPOINT_URL={up(args.port, args.env)}")
        return 0
    from deployer.errors import ManifestError

    try:
        manifest, aws, env = prepare(args.port, args.env, args.build_dir)
        chosen = manifest.select(args.stack)
    except ManifestError as error:
        sys.exit(f"[local-aws] error: {error}")
    common = ["--env", args.env, *(["--build-dir", str(args.build_dir)] if args.build_dir else [])]
    asked = stack_args(chosen) if args.stack else []
    if args.command == "plan":
        return deploy_py([*common, "--no-execute", *asked, *rest], env)
    return deploy(manifest, aws, env, common, rest, chosen, asked)


def deploy(
    manifest: Any,
    aws: Any,
    env: dict[str, str],
    common: list[str],
    rest: list[str],
    chosen: list[Any],
    asked: list[str],
) -> int:
    """Deploy the chosen stacks; the image they run is registered first (standing in for
    make push), and when its repository does not exist yet, the stacks before the first one
    that runs it are deployed first (once: the second pass leaves them out)."""
    from deployer import preflight

    first_needing_image = next((s for s in chosen if s.needs_image), None)
    if first_needing_image is None:
        return deploy_py([*common, *asked, *rest], env)
    image, ecr = manifest.image, aws.client("ecr")
    state = preflight.image_state(ecr, image.repository_name, image.tag)
    if state == preflight.IMAGE_PRESENT:
        say(f"{image.repository_name}:{image.tag} is already in the emulator's ECR")
        return deploy_py([*common, *asked, *rest], env)
    if state == preflight.REPOSITORY_MISSING:
        before = list(manifest.stacks[: manifest.stacks.index(first_needing_image)])
        if before:  # the registry must exist before the image can be registered in it
            code = deploy_py([*common, *stack_args(before), *rest], env)
            if code != 0:
                return code
            asked = stack_args(s for s in chosen if s not in before)
    push_stand_in(manifest, ecr)
    return deploy_py([*common, *asked, *rest], env)


if __name__ == "__main__":
    sys.exit(main())
