"""The local deploy while CloudFormation throttles: every second CloudFormation call refused.

moto never throttles (../shared/EMULATOR.md), so tests/throttle_proxy.py stands between the
deployer and the session's moto server and answers every second CloudFormation call with
AWS's own error (HTTP 400, Throttling, "Rate exceeded"). The deploy must ride it out on
botocore's retries and the follower's backoff, with nothing for the person to do.

Slow by nature: every refused call is retried after botocore's backoff, and its adaptive mode
then paces the client; the two runs together take over a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import test_deploy_support as support
from throttle_proxy import ThrottleProxy, every

from deployer.lock import LOCK_DIR_VAR

ROOT = Path(__file__).resolve().parent.parent
MIN_THROTTLED = 10  # per run: enough that no run got through on luck


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """The real local templates, generated as `make templates` does, into a tmp build dir."""
    out = tmp_path / "build" / support.ENV
    subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "--env", support.ENV, "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def emulator(child_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The session's moto server, freshly reset (child_env): local_aws.py bootstraps what the
    account would have (hosted zone, SSM parameter, certificate) through the proxy too. Locks
    and state in tmp_path: a person's `make deploy` in this checkout must not make the test
    wait or fail."""
    return {
        **child_env,
        LOCK_DIR_VAR: str(tmp_path / "locks"),
        "LOCAL_AWS_STATE_DIR": str(tmp_path / "state"),
    }


def local_deploy(env: dict[str, str], build: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "local_aws.py"), "deploy", "--env", support.ENV,
         "--build-dir", str(build), "--yes"],
        env=env, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=600,  # a hung deploy fails the test; the deploy's own pace is not asserted
    )  # fmt: skip


def stack_names(build: Path) -> list[str]:
    manifest = json.loads((build / "manifest.json").read_text())
    return [stack["stack_name"] for stack in manifest["stacks"]]


def statuses(moto_endpoint: str, names: list[str]) -> dict[str, str]:
    """Each stack's status as the emulator itself says, not through the proxy."""
    cf = boto3.client(
        "cloudformation",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return {name: cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] for name in names}


def test_local_deploy_rides_out_half_of_cloudformation_calls_throttled(
    moto_endpoint: str, emulator: dict[str, str], build: Path
) -> None:
    names = stack_names(build)
    assert names
    with ThrottleProxy(moto_endpoint, every(2)) as proxy:
        env = {**emulator, "AWS_ENDPOINT_URL": proxy.url}

        first = local_deploy(env, build)
        assert first.returncode == 0, first.stdout + first.stderr
        assert statuses(moto_endpoint, names) == dict.fromkeys(names, "CREATE_COMPLETE")
        throttled_first = proxy.throttled_total()
        assert throttled_first >= MIN_THROTTLED, proxy.tally.render()

        second = local_deploy(env, build)
        assert second.returncode == 0, second.stdout + second.stderr
        for name in names:
            assert f"{name}: no changes" in second.stdout
        assert "executing" not in second.stdout
        assert proxy.throttled_total() - throttled_first >= MIN_THROTTLED, proxy.tally.render()
