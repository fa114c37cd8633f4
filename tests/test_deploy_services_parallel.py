"""The checks after a deploy of several services run side by side, on moto's server over HTTP:
the real local environment (web, then api) deployed once through local_aws.py, then
postdeploy.run in this process as deploy.py runs it, each service's smoke check against its
own HTTP server on 127.0.0.1 (tests/postdeploy_checks.py says why that one call is routed).

What a person reads is what one service after the other would write: each service's lines as
one block, in the manifest's order, however the checks interleave; one failing does not stop
the others; Ctrl-C says which did not finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from postdeploy_checks import deployer_after, routed
from test_deploy_e2e import emulator_client, fresh_emulator, run_script
from test_deploy_smoke import Server, health

import deploy
from deployer import manifest as manifests
from deployer import postdeploy, smoke
from deployer.errors import DeployFailed

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "scalable-app-local"


@pytest.fixture(scope="module")
def deployed(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], Path]]:
    env = fresh_emulator(moto_endpoint, tmp_path_factory)
    env["LOCAL_AWS_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    build = tmp_path_factory.mktemp("generated") / "local"
    done = run_script(env, "generate.py", "--env", "local", "--out", str(build))
    assert done.returncode == 0, done.stderr
    first = run_script(env, "local_aws.py", "deploy", "--build-dir", str(build), "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    yield env, build


@pytest.fixture
def aws(deployed: tuple[dict[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process pointed at the emulator; the build deployed there."""
    env, build = deployed
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return build


def tag_of(build: Path) -> str:
    image = manifests.load(build).services[0].image
    assert image is not None
    return image.tag


def unrecorded(*services: str) -> None:
    """Each service's record of its image deleted: its check records it again (a record
    of the tag already recorded is not written twice, nor said)."""
    ssm = emulator_client(dict(os.environ), "ssm")
    for service in services:
        ssm.delete_parameter(Name=f"/{PREFIX}-svc-{service}/deployed-image-tag")


def blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(service, its lines) per header, in the order written; a block ends at a line that
    is not its own (indented)."""
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("After the "):
            found.append((line.split("(service ")[1].split(",")[0], [line]))
        elif found and line.startswith("  "):
            found[-1][1].append(line)
    return found


def test_each_services_lines_are_one_block_in_the_manifests_order_though_api_ends_first(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """web's health answers late (its server waits 1.5 s before each answer); api's at
    once. api's checks end first, yet web's block is written first and whole."""
    tag = tag_of(aws)
    answered: dict[str, float] = {}

    def late(_n: int) -> tuple[int, bytes]:
        time.sleep(1.5)
        answered["web"] = time.monotonic()
        return health(tag)

    def at_once(_n: int) -> tuple[int, bytes]:
        answered["api"] = time.monotonic()
        return health(tag)

    servers = {"web": Server(late), "api": Server(at_once)}
    unrecorded("web", "api")
    monkeypatch.setattr(smoke, "smoke", routed(servers))
    lines: list[str] = []
    reports = postdeploy.run(deployer_after(aws, lines.append), postdeploy.Checks(verify=False))
    assert answered["api"] < answered["web"], answered  # side by side: api did not wait
    assert [service for service, _ in blocks(lines)] == ["web", "api"]
    assert [r["service"] for r in reports] == ["web", "api"]  # the JSON's order too
    for service, block in blocks(lines):
        assert block[0].startswith(f"After the deploy of {PREFIX}-svc-{service} ")
        assert block[-2] == (
            f"  smoke: {servers[service].url}_health answers version {tag} (after 1 GET)"
        ), block
        assert block[-1].startswith(f"  recorded image {tag} in SSM parameter /{PREFIX}-svc-")
    # nothing of another block between a header and its last line
    assert len(lines) == sum(len(block) for _, block in blocks(lines)) + 2  # two blank lines


def test_a_service_that_fails_its_checks_does_not_stop_the_others_and_is_named(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = tag_of(aws)
    servers = {"web": Server(lambda _n: (503, b"{}")), "api": Server(lambda _n: health(tag))}
    unrecorded("api")
    monkeypatch.setattr(smoke, "smoke", routed(servers))
    lines: list[str] = []
    reports: list[dict] = []
    checks = postdeploy.Checks(verify=False, smoke_seconds=1.0)
    with pytest.raises(DeployFailed) as failed:
        postdeploy.run(deployer_after(aws, lines.append), checks, reports=reports)
    assert str(failed.value) == "the checks after the deploy failed for 1 of 2 services: web"
    (web, api) = blocks(lines)
    said: list[str] = []
    assert deploy.report_error(failed.value, said.append, {}) == deploy.EXIT_ERROR
    assert said[0] == f"\nDEPLOY FAILED: {failed.value}"
    assert any("smoke: FAILED" in line for line in web[1]), web
    assert not any(line.startswith("  recorded image") for line in web[1]), web
    assert api[1][-1].startswith(f"  recorded image {tag} in SSM parameter"), api
    assert [(r["service"], "failed" in r) for r in reports] == [("web", True), ("api", False)]


def test_ctrl_c_during_the_checks_says_which_did_not_finish_and_exits_130(aws: Path) -> None:
    """web's health never answers 200, api's does at once: Ctrl-C once api's check has
    recorded its image (its SSM parameter, deleted first, is back)."""
    ssm = emulator_client(dict(os.environ), "ssm")
    parameter = f"/{PREFIX}-svc-api/deployed-image-tag"
    unrecorded("api")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "postdeploy_checks.py"), str(aws)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: SIGINT as a terminal's Ctrl-C sends it
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not ssm.get_parameters(Names=[parameter])["Parameters"]:
            assert process.poll() is None and time.monotonic() < deadline, "".join(out)
            time.sleep(0.1)
        time.sleep(0.3)  # api's thread hands its block back
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == deploy.EXIT_INTERRUPTED
    finally:
        if process.poll() is None:  # ours: web's check would run for 10 minutes
            process.kill()
            process.wait()
    reader.join(timeout=5)
    text = "".join(out)
    assert [service for service, _ in blocks(text.splitlines())] == ["api"], text
    assert (
        "interrupted: the checks after the deploy of web did not finish (their image is not "
        "recorded as good); the stacks are deployed: make status shows them"
    ) in text
