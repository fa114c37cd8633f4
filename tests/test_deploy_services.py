"""SERVICE= (deploy.py --service): one service's stacks and the shared ones; the stacks of a
service removed from the file shown as orphans in the plan. On moto over HTTP, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_deploy_support as support

STACKS = {"network": (), "svc-api": ("network",), "svc-web": ("network",)}
SERVICES = {"svc-api": "api", "svc-web": "web"}


run = support.run_json


def test_service_selects_its_stacks_and_the_shared_ones(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = support.write_graph(tmp_path / "local", STACKS, SERVICES)
    code, log, document = run(build, capsys, "deploy", "--yes", "--service", "api")
    assert code == 0, log
    assert [s["key"] for s in document["stacks"]] == ["network", "svc-api"]
    assert [s["outcome"] for s in document["stacks"]] == ["created", "created"]
    code, log, document = run(build, capsys, "plan", "--service", "web")
    assert code == 2, log  # web would be created
    outcomes = {s["key"]: s["outcome"] for s in document["stacks"]}
    assert outcomes == {"network": "no changes", "svc-web": "changes"}


def test_an_unknown_service_is_refused_naming_the_known_ones(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = support.write_graph(tmp_path / "local", STACKS, SERVICES)
    code, _, document = run(build, capsys, "plan", "--service", "apii")
    assert code == 1
    assert "no service apii" in document["error"]
    assert "its services are api, web" in document["error"]
    assert document["stacks"] == []


def test_a_service_removed_from_the_file_is_an_orphan_in_the_plan(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, log, _ = run(
        support.write_graph(tmp_path / "v1", STACKS, SERVICES, reads_upstream=False),
        capsys,
        "--yes",
    )
    assert code == 0, log
    without_web = {k: v for k, v in STACKS.items() if k != "svc-web"}
    build = support.write_graph(tmp_path / "v2", without_web, SERVICES, reads_upstream=False)
    code, log, document = run(build, capsys, "plan")
    assert code == 0, log  # nothing of the manifest changes; the orphan is reported
    assert document["orphans"] == [
        {"stack_name": "test-svc-web", "service": "web", "status": "CREATE_COMPLETE"}
    ]
    assert "test-svc-web: ORPHAN" in log
    assert "make destroy ENV=local SERVICE=web" in log
