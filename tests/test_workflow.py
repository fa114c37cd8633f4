"""The GitHub Actions workflow (.github/workflows/ci.yml): what it runs on a pull request and on
main, with which credentials; `make lint-workflows` refuses a workflow GitHub would reject or
zizmor finds unsafe; the README's CI section names what the workflow reads (issue 10)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from templates.ci import DEPLOY_ROLE_OUTPUT, PLAN_ROLE_OUTPUT

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def runs(job: str) -> list[str]:
    return [step["run"] for step in workflow()["jobs"][job]["steps"] if "run" in step]


def uses(job: str, action: str) -> dict[str, Any]:
    (step,) = [s for s in workflow()["jobs"][job]["steps"] if s.get("uses", "").startswith(action)]
    return dict(step)


def test_it_runs_on_pull_requests_and_on_pushes_to_main() -> None:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert workflow()[True] == {"pull_request": None, "push": {"branches": ["main"]}}


def test_a_pull_request_runs_make_test_then_plans_staging_into_the_job_summary() -> None:
    jobs = workflow()["jobs"]
    assert runs("test") == ["make test"]
    plan = jobs["plan-staging"]
    assert plan["needs"] == "test"
    assert "pull_request" in plan["if"]
    assert runs("plan-staging") == [
        'make -s plan ENV=staging OUTPUT=markdown >> "$GITHUB_STEP_SUMMARY"'
    ]


def test_main_builds_pushes_and_deploys_production_behind_its_github_environment() -> None:
    deploy = workflow()["jobs"]["deploy-production"]
    assert deploy["needs"] == "test"
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]
    assert deploy["environment"] == "production"  # its required reviewers approve the deploy
    assert runs("deploy-production") == [
        "make image",
        "make push ENV=production",
        "make deploy ENV=production YES=1",
    ]


@pytest.mark.parametrize(
    ("job", "variable"),
    [
        ("plan-staging", "vars.STAGING_PLAN_ROLE_ARN"),
        ("deploy-production", "vars.PRODUCTION_DEPLOY_ROLE_ARN"),
    ],
)
def test_aws_credentials_come_from_oidc_with_a_role_and_no_keys(job: str, variable: str) -> None:
    step = uses(job, "aws-actions/configure-aws-credentials@")
    assert step["with"]["role-to-assume"] == f"${{{{ {variable} }}}}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"])
    assert workflow()["jobs"][job]["permissions"] == {"contents": "read", "id-token": "write"}


def test_only_the_aws_jobs_may_ask_for_an_oidc_token() -> None:
    assert workflow()["permissions"] == {}
    assert workflow()["jobs"]["test"]["permissions"] == {"contents": "read"}


def test_one_operation_per_environment_at_a_time_and_none_is_cancelled() -> None:
    jobs = workflow()["jobs"]
    assert jobs["plan-staging"]["concurrency"] == {
        "group": "aws-staging",
        "cancel-in-progress": False,
    }
    assert jobs["deploy-production"]["concurrency"] == {
        "group": "aws-production",
        "cancel-in-progress": False,
    }


def test_every_action_is_pinned_by_commit() -> None:
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert SHA.match(step["uses"]), step["uses"]


def lint(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    candidate = tmp_path / "ci.yml"
    candidate.write_text(text)
    return subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "lint-workflows", f"WORKFLOWS={candidate}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_lint_workflows_passes_the_workflow(tmp_path: Path) -> None:
    result = lint(tmp_path, WORKFLOW.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (  # an action by tag: the tag can be moved to other code
            ("@e3dd6a429d7300a6a4c196c26e071d42e0343502", "@v4"),
            "unpinned-uses",
        ),
        (  # a pull request's title run as shell
            ("- run: make test", '- run: echo "${{ github.event.pull_request.title }}"'),
            "template-injection",
        ),
        (("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"), "Schema validation errors"),
        # actionlint: what the schema lets through
        (("runs-on: ubuntu-24.04", "runs-on: ubuntu-2404"), '"ubuntu-2404" is unknown'),
        (("- run: make test", '- run: echo "${{ github.ref == }}"'), "[expression]"),
    ],
)
def test_make_lint_workflows_refuses_an_unsafe_or_invalid_workflow(
    tmp_path: Path, edit: tuple[str, str], complaint: str
) -> None:
    text = WORKFLOW.read_text()
    assert edit[0] in text
    result = lint(tmp_path, text.replace(edit[0], edit[1], 1))
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr


def test_the_readme_ci_section_names_what_the_workflow_reads() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## CI") :]
    section = section[: section.find("\n## ", 4) if "\n## " in section[4:] else None]
    text = WORKFLOW.read_text()
    for name in set(re.findall(r"\b(?:vars|secrets)\.([A-Z_]+)", text)):
        assert name in section, name
    for job in workflow()["jobs"]:
        for command in runs(job):
            assert command.split(" >>")[0] in section, command
    for output in (PLAN_ROLE_OUTPUT, DEPLOY_ROLE_OUTPUT):
        assert output in section
    for environment in ("production", "staging"):
        assert f"environment `{environment}`" in section


def deploy_py_line(make_command: str, **env: str) -> str:
    """The deploy.py command line `make_command` runs (make -n), with `env` and no SERVICE or
    STACK of this shell's."""
    runner = {k: v for k, v in os.environ.items() if k not in {"SERVICE", "STACK"}}
    dry = subprocess.run(
        ["make", "-n", *make_command.split(">>")[0].split()[1:]],
        cwd=ROOT,
        env={**runner, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = [line for line in dry.stdout.splitlines() if "deploy.py" in line]
    return line


@pytest.mark.parametrize("job", ["plan-staging", "deploy-production"])
def test_the_plan_and_the_deploy_cover_every_service_of_the_environment(job: str) -> None:
    """No SERVICE= or STACK= narrows them (nor an env: of the workflow, job or step that make
    would read): the plan shows every service's stack, the deploy checks every one after it."""
    found = workflow()
    scopes = [found.get("env") or {}, found["jobs"][job].get("env") or {}]
    scopes += [step.get("env") or {} for step in found["jobs"][job]["steps"]]
    assert not any({"SERVICE", "STACK"} & set(scope) for scope in scopes)
    (command,) = [run for run in runs(job) if run.startswith(("make -s plan", "make deploy"))]
    assert not re.search(r"\b(SERVICE|STACK)=", command)
    assert "--service" not in deploy_py_line(command) and "--stack" not in deploy_py_line(command)
    assert "--service web" in deploy_py_line(command, SERVICE="web")  # what it would show
