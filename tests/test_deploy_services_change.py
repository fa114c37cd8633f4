"""One service's change reaches only its stack: the real local environment (`web` and `api`)
generated and deployed on moto's server over HTTP, then web's counts changed in a copy of the
file and the environment planned again: svc-web would change, every other stack says "no
changes" (issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_deploy_e2e import fresh_emulator, run_script

ROOT = Path(__file__).resolve().parent.parent


def web_scaled_to(maximum: int, into: Path) -> Path:
    """A copy of environments/local.toml whose web service scales to `maximum` tasks."""
    text = (ROOT / "environments" / "local.toml").read_text()
    web, rest = text.split("[services.web]", 1)[1].split("[services.", 1)
    changed, count = re.subn(r"(?m)^max_count = \d+$", f"max_count = {maximum}", web)
    assert count == 1, "environments/local.toml's [services.web] sets max_count once"
    into.mkdir(parents=True, exist_ok=True)
    path = into / "local.toml"
    path.write_text(
        text.split("[services.web]", 1)[0] + "[services.web]" + changed + "[services." + rest
    )
    return path


def test_changing_one_services_counts_changes_only_its_stack(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = fresh_emulator(moto_endpoint, tmp_path_factory)
    env["LOCAL_AWS_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    first = tmp_path_factory.mktemp("first") / "local"
    assert run_script(env, "generate.py", "--env", "local", "--out", str(first)).returncode == 0
    deployed = run_script(env, "local_aws.py", "deploy", "--build-dir", str(first), "--yes")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    changed_env = web_scaled_to(7, tmp_path_factory.mktemp("changed"))
    second = tmp_path_factory.mktemp("second") / "local"
    made = run_script(env, "generate.py", "--env", str(changed_env), "--out", str(second))
    assert made.returncode == 0, made.stderr
    planned = run_script(
        env, "local_aws.py", "plan", "--build-dir", str(second), "--output", "json"
    )
    assert planned.returncode == 2, planned.stderr  # something would change
    outcomes = {s["key"]: s["outcome"] for s in json.loads(planned.stdout)["stacks"]}
    assert outcomes.pop("svc-web") == "changes"
    assert set(outcomes) == {"network", "registry", "environment", "svc-api"}
    assert set(outcomes.values()) == {"no changes"}, outcomes
