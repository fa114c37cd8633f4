"""The checks after a deploy (deployer/postdeploy.py), run in this process on services deployed
to moto's server, each service's smoke check against its own real HTTP server on 127.0.0.1.

moto's load balancer serves nothing (the smoke check says it cannot run there), so no server
of ours can answer late or fail through it: `routed` is the one piece swapped, smoke.smoke,
which here sends each service's check (deployer/smoke.py's own `check`) to the server named
for its path (web: /, api: /api/). Every other call is the deployer's, against the emulator.

    python tests/postdeploy_checks.py BUILD_DIR   # Ctrl-C test: web never healthy, api is
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_deploy_smoke import FAST, Server, health

from deployer import manifest as manifests
from deployer import postdeploy, smoke
from deployer.follow import describe_stack
from deployer.output import Output
from deployer.run import NO_CHANGES, Deployer, Options, StackResult
from deployer.session import Aws


def routed(servers: dict[str, Server]) -> Callable[..., smoke.Smoke]:
    """smoke.smoke, each service's check sent to servers[its path, or "web"]."""

    def check(
        service_url: str | None,
        version: str,
        _endpoint: str,
        seconds: float,
        say: Callable[[str], None],
        _health_path: str | None = None,
    ) -> smoke.Smoke:
        name = urlsplit(service_url or "").path.strip("/") or "web"
        url = smoke.health_url(servers[name].url)
        return smoke.check(url, version, FAST.deadline(seconds), say, FAST)

    return check


def deployer_after(build: Path, say: Callable[[str], None], concurrency: int = 4) -> Deployer:
    """A deployer as deploy.py has it once every stack of `build` was found unchanged."""
    aws = Aws("us-east-1")  # the emulator, from AWS_ENDPOINT_URL
    manifest = manifests.load(build)
    output = Output(say)
    options = Options(
        execute=True,
        yes=True,
        revision="test",
        confirm=lambda _question: False,
        environ=dict(os.environ),
        output=output,
        concurrency=concurrency,
    )
    deployer = Deployer(aws, manifest, options, output.say)
    for spec in manifest.stacks:
        stack = describe_stack(deployer.cf, spec.stack_name)
        assert stack is not None, f"{spec.stack_name} is not deployed"
        found = deployer.resolver.stack_outputs(spec, stack)
        deployer.results.append(StackResult(spec.key, spec.stack_name, NO_CHANGES, outputs=found))
    return deployer


def main(build: Path) -> int:
    import deploy

    image = manifests.load(build).services[0].image
    assert image is not None
    web = Server(lambda _n: (503, b"{}"))  # never healthy: the check runs until Ctrl-C
    api = Server(lambda _n: health(image.tag))
    smoke.smoke = routed({"web": web, "api": api})

    def say(line: str) -> None:
        print(line, flush=True)

    deployer = deployer_after(build, say)
    checks = postdeploy.Checks(verify=False, smoke_seconds=600)
    try:
        postdeploy.run(deployer, checks)
    except KeyboardInterrupt:
        return deploy.EXIT_INTERRUPTED  # what deploy.main does with a bare one
    except Exception as error:
        return deploy.report_error(error, say, {})
    return deploy.EXIT_OK


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
