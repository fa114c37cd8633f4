"""Shared fixtures: one moto server per test session, on 127.0.0.1 and a free port, behind
the conformance proxy (local_conformance.py: AWS's capability and template-size rules, which
moto does not enforce), as every local deploy is.

Tests talk to it over HTTP through the standard AWS_ENDPOINT_URL, the same path the deployer
takes against real AWS. State is wiped before each test that asks for `aws`.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from local_aws import conformant

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with conformant(f"http://{host}:{port}") as proxy:
        yield proxy.url
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str) -> dict[str, str]:
    """Environment variables that point boto3 (in this process or a child) at the emulator."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    ).close()
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # the deploy lock of these runs, not the checkout's (a person may be deploying)
        "SCALABLE_APP_LOCK_DIR": str(
            Path(tempfile.gettempdir()) / f"scalable-app-locks-{os.getpid()}"
        ),
    }


@pytest.fixture
def aws(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 in this process at a freshly reset emulator; returns the variables set."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    return aws_env


@pytest.fixture
def child_env(aws_env: dict[str, str]) -> dict[str, str]:
    """The whole environment for a subprocess (deploy.py, make targets) aimed at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_env)
    return env
