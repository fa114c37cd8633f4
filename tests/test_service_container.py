"""The container's definition agrees with the service's contract (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bench.dockerfile import cmd, exec_form, instructions, last
from service.contract import (
    APP_MODULE,
    GRACEFUL_SHUTDOWN_SECONDS,
    HEALTH_PATH,
    PORT,
    STOP_TIMEOUT_SECONDS,
)

ROOT = Path(__file__).resolve().parent.parent


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_cmd_is_exec_form_and_serves_the_contract() -> None:
    argv = cmd()
    assert argv[:3] == ["python", "-m", "service"]
    assert APP_MODULE in argv
    assert option(argv, "--host") == "0.0.0.0"
    assert option(argv, "--port") == str(PORT)
    assert option(argv, "--loop") == "uvloop"
    assert option(argv, "--http") == "service.protocol:HealthFirstProtocol"  # httptools-based
    assert "--no-access-log" in argv  # the app writes the access log, without /_health
    assert "--no-proxy-headers" in argv  # trusts only 127.0.0.1: useless behind the ALB, costly
    assert int(option(argv, "--timeout-graceful-shutdown")) == GRACEFUL_SHUTDOWN_SECONDS
    assert GRACEFUL_SHUTDOWN_SECONDS < STOP_TIMEOUT_SECONDS
    assert (ROOT / option(argv, "--log-config")).is_file()


def test_expose_is_the_contract_port() -> None:
    assert last("EXPOSE") == str(PORT)


def test_healthcheck_is_exec_form_on_the_health_path_with_stdlib_only() -> None:
    arguments = last("HEALTHCHECK")
    flags, _, command = arguments.partition("CMD")
    assert re.search(r"--timeout=\d+s", flags)
    probe = exec_form(command.strip())
    assert probe[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{PORT}{HEALTH_PATH}" in probe[2]
    assert "urllib.request" in probe[2]
    assert "curl" not in arguments and "wget" not in arguments


def test_runs_as_a_numeric_non_root_user_on_a_read_only_filesystem() -> None:
    steps = instructions()
    user = last("USER")
    assert re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user), user
    names = [name for name, _ in steps]
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "RUN")
    env = " ".join(arguments for name, arguments in steps if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    froms = [arguments for name, arguments in steps if name == "FROM"]
    assert len(froms) >= 2  # multi-stage
    assert "--requirement /tmp/requirements.txt" in " ".join(a for n, a in steps if n == "RUN")


def test_make_run_uses_the_same_arguments_as_cmd() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe, "no run target"
    words = recipe.group(1).split()
    assert words[0] == "APP_VERSION=$(GIT_REVISION)"  # /_health shows the checkout's revision
    assert words[1:] == ["$(PY)", *cmd()[1:]]


def test_compose_serves_the_port_read_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    assert f"{PORT}:{PORT}" in web["ports"]
    assert web["read_only"] is True


def test_dockerignore_keeps_tests_venv_and_build_out() -> None:
    patterns = (ROOT / ".dockerignore").read_text().split()
    assert patterns[patterns.index("*") :][:2] == ["*", "!service/"]
