"""What make promises a user and a script: YES and OUTPUT read strictly, make help's variables,
one JSON document on stdout for every verb, and the exit code of each documented command
(the README's table "Exit codes" and make help), run for real against the emulator."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from checkout_copy import copy_checkout

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def make(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-o", ".venv/.installed", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("value", ["0", "no", "false", "NO", "False", ""])
def test_yes_that_is_not_a_yes_asks(value: str) -> None:
    """Before: YES=0 (any non-empty value) passed --yes and executed without asking."""
    for target in ("deploy", "rollback", "cancel", "promote", "abort"):
        shown = make("-n", target, f"YES={value}", "SERVICE=web")
        assert shown.returncode == 0, shown.stderr
        assert "--yes" not in shown.stdout + shown.stderr


@pytest.mark.parametrize("value", ["1", "yes", "true", "TRUE", "Yes"])
def test_an_explicit_yes_skips_the_question(value: str) -> None:
    shown = make("-n", "deploy", f"YES={value}")
    assert "--yes" in shown.stdout + shown.stderr


@pytest.mark.parametrize("value", ["maybe", "y", "2", "1 0"])
def test_any_other_yes_is_refused_naming_the_accepted_values(value: str) -> None:
    refused = make("-n", "deploy", f"YES={value}")
    assert refused.returncode == 2
    assert f"YES={value} is not understood" in refused.stderr
    assert "1, yes or true" in refused.stderr and "0, no, false or unset" in refused.stderr
    assert "local_aws.py" not in refused.stdout  # refused before anything runs


@pytest.mark.parametrize("target", ["plan", "deploy", "status", "rollback"])
def test_an_unknown_output_is_refused(target: str) -> None:
    """Before: make plan OUTPUT=yaml exited 0."""
    refused = make("-n", target, "OUTPUT=yaml")
    assert refused.returncode == 2
    assert "OUTPUT=yaml is not a form we print: OUTPUT=text (default), json or markdown" in (
        refused.stderr
    )


def test_make_help_lists_the_variables_in_aligned_columns() -> None:
    shown = make("help")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    variables = lines[next(i for i, line in enumerate(lines) if line.startswith("Variables")) + 1 :]
    for name in ("YES", "STACK", "OUTPUT", "DETAILED", "TIMEOUT", "NO_VERIFY", "SKIP"):
        assert any(line.split("=")[0].strip() == name for line in variables), name
    assert any(line.strip().startswith("LOCAL_AWS_PORT=") for line in variables)
    targets = [line for line in lines if line.startswith("  make ")]
    assert len({re.match(r"  make \S+ +", t).end() for t in targets}) == 1  # type: ignore[union-attr]
    assert len({re.match(r"  \S.*?  +(?=\S)", v).end() for v in variables}) == 1  # type: ignore[union-attr]
    assert "make logs" in shown.stdout and "make plan" in shown.stdout


# Each command of the README's exit-code table, in the order run, with the code it must give
# (an empty account first: the first plan has changes, the deploy without YES is refused).
DOCUMENTED = [
    ("make plan", 0),
    ("make plan DETAILED=1", 2),
    (".venv/bin/python local_aws.py plan --env local", 2),
    ("make plan OUTPUT=yaml", 2),
    ("make deploy YES=maybe", 2),
    ("make deploy", 2),
    ("make deploy YES=1", 0),
    ("make plan DETAILED=1", 0),
    (".venv/bin/python local_aws.py plan --env local", 0),
    ("make status OUTPUT=json", 0),
    ("make rollback OUTPUT=json", 2),
    ("make promote", 2),
    ("make abort SERVICE=web OUTPUT=json", 2),
    ("make help", 0),
]


def test_each_documented_command_exits_as_the_readme_says(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    """Run for real in a copy of the checkout (its own build/, no git), on the session's
    emulator. Before: make plan OUTPUT=yaml exited 0, and the README's '1 on an error' was
    make's 2."""
    tree = copy_checkout(tmp_path / "checkout")
    for command, code in DOCUMENTED:
        assert f"`{command}`" in README, f"the README's exit-code table lacks {command}"
        if command.startswith("make "):
            result = make("-s", *command.split()[1:], cwd=tree, env=child_env)
        else:
            result = subprocess.run(
                command.split(), cwd=tree, env=child_env, capture_output=True, text=True,
                timeout=300, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        assert result.returncode == code, f"{command}: {result.stdout}{result.stderr}"
        if "OUTPUT=json" in command:  # one JSON document on stdout, whatever the exit
            assert json.loads(result.stdout)["mode"] in {"status", "rollback", "abort"}
        if command == "make promote":  # refused by make before anything runs
            assert "make promote: name the service (make promote SERVICE=NAME)" in result.stderr
        if command.startswith("make abort"):  # local's services deploy rolling: none pauses
            assert "deploys with a rolling update" in json.loads(result.stdout)["error"]
        if command == "make plan DETAILED=1" and code == 2:  # changes, told from an error
            assert "make plan DETAILED=1: something would change" in result.stderr


def test_every_verb_prints_one_json_document_and_status_a_markdown_table(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    """Without -s: make's echoed command lines go to stderr. Before: make status OUTPUT=json
    | python3 -m json.tool failed on the command line, and OUTPUT=markdown was an empty table."""
    tree = copy_checkout(tmp_path / "checkout")
    assert make("deploy", "YES=1", cwd=tree, env=child_env).returncode == 0
    for verb in ("plan", "deploy", "status", "rollback"):
        result = make(verb, "OUTPUT=json", cwd=tree, env=child_env)
        assert json.loads(result.stdout)["mode"] == verb, result.stdout + result.stderr
    table = make("status", "OUTPUT=markdown", cwd=tree, env=child_env).stdout
    assert "| stack | status | since |" in table
    assert "| `scalable-app-local-svc-web` | CREATE_COMPLETE |" in table
    assert "| rollout | rollout " in table
