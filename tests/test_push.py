"""Login and tagging logic of the image push, against the emulator's ECR and a fake docker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

import push
from deployer.registry_push import (
    Docker,
    ImageNotBuilt,
    NoDockerEngine,
    PushError,
    RepositoryNotFound,
    get_login,
    push_image,
)

REPOSITORY = "scalable-app-local"
TAG = "0123456789ab"


class FakeDocker:
    """Records docker invocations; `fail` maps a docker subcommand to its exit code."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.fail = fail or {}

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs.get("input")))
        args = argv[3:] if argv[1] == "--config" else argv[1:]
        code = self.fail.get(args[0], 0)
        return subprocess.CompletedProcess(argv, code, "", "boom" if code else "")

    def commands(self) -> list[list[str]]:
        """Each call without the executable and the --config directory (a temporary path)."""
        return [argv[3:] if argv[1] == "--config" else argv[1:] for argv, _ in self.calls]


@pytest.fixture
def ecr(aws: dict[str, str]) -> Any:
    client = boto3.client("ecr")
    client.create_repository(repositoryName=REPOSITORY)
    return client


def test_login_decodes_the_authorization_token(ecr: Any) -> None:
    login = get_login(ecr)
    assert login.username == "AWS"
    assert login.password
    assert login.registry.endswith(".dkr.ecr.us-east-1.amazonaws.com")
    assert "://" not in login.registry
    assert login.password not in repr(login)


def test_push_tags_with_the_revision_and_logs_in_through_stdin(ecr: Any) -> None:
    fake = FakeDocker()
    pushed = push_image(
        ecr, Docker(run=fake), local_image="scalable-app", repository_name=REPOSITORY, tag=TAG
    )
    uri = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]
    target = f"{uri['repositoryUri']}:{TAG}"
    assert pushed == target
    login = get_login(ecr)
    assert fake.commands() == [
        ["info"],
        ["image", "inspect", f"scalable-app:{TAG}"],
        ["login", "--username", "AWS", "--password-stdin", login.registry],
        ["tag", f"scalable-app:{TAG}", target],
        ["push", target],
    ]
    # The password goes through stdin only, never on a command line.
    for argv, stdin in fake.calls:
        assert login.password not in " ".join(argv)
        if argv[-2:] == ["--password-stdin", login.registry]:
            assert stdin == login.password
    # login and push share one throwaway docker config directory, gone afterwards.
    config_dirs = {argv[2] for argv, _ in fake.calls if argv[1] == "--config"}
    assert len(config_dirs) == 1
    assert not Path(config_dirs.pop()).exists()
    assert not any("latest" in part for argv in fake.commands() for part in argv)


@pytest.mark.parametrize("tag", ["latest", "", "has space", "-leading-dash"])
def test_latest_and_malformed_tags_are_refused(ecr: Any, tag: str) -> None:
    fake = FakeDocker()
    with pytest.raises(PushError, match="not a revision"):
        push_image(
            ecr, Docker(run=fake), local_image="scalable-app", repository_name=REPOSITORY, tag=tag
        )
    assert fake.calls == []


def test_without_a_docker_engine_nothing_else_happens(ecr: Any) -> None:
    fake = FakeDocker(fail={"info": 1})
    with pytest.raises(NoDockerEngine, match="no Docker engine"):
        push_image(
            ecr, Docker(run=fake), local_image="scalable-app", repository_name=REPOSITORY, tag=TAG
        )
    assert fake.commands() == [["info"]]


def test_docker_not_installed_is_no_engine(ecr: Any) -> None:
    docker = Docker(executable="/nonexistent/docker")
    with pytest.raises(NoDockerEngine):
        push_image(ecr, docker, local_image="scalable-app", repository_name=REPOSITORY, tag=TAG)


def test_missing_local_image_says_make_image(ecr: Any) -> None:
    with pytest.raises(ImageNotBuilt, match="make image"):
        push_image(
            ecr,
            Docker(run=FakeDocker(fail={"image": 1})),
            local_image="scalable-app",
            repository_name=REPOSITORY,
            tag=TAG,
        )


def test_missing_repository_says_deploy_the_registry_first(ecr: Any) -> None:
    with pytest.raises(RepositoryNotFound, match="registry stack"):
        push_image(
            ecr,
            Docker(run=FakeDocker()),
            local_image="scalable-app",
            repository_name="no-such-repository",
            tag=TAG,
        )


def write_manifest(build: Path, env: str = "local") -> None:
    (build / env).mkdir(parents=True)
    manifest = {
        "environment": env,
        "region": "us-east-1",
        "image": {"repository_name": REPOSITORY, "tag": TAG},
    }
    (build / env / "manifest.json").write_text(json.dumps(manifest))


def test_cli_pushes_the_manifest_tag(
    ecr: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path)
    fake = FakeDocker()
    assert push.main(["--env", "local", "--build-dir", str(tmp_path)], docker=Docker(fake)) == 0
    assert capsys.readouterr().out.strip().endswith(f"/{REPOSITORY}:{TAG}")
    assert ["tag", f"scalable-app:{TAG}", fake.commands()[-1][1]] == fake.commands()[-2]


def test_cli_without_engine_or_manifest_exits_1_with_a_clear_message(
    ecr: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push.main(["--env", "local", "--build-dir", str(tmp_path)]) == 1
    assert "make templates" in capsys.readouterr().err
    write_manifest(tmp_path)
    no_engine = Docker(FakeDocker(fail={"info": 1}))
    assert push.main(["--env", "local", "--build-dir", str(tmp_path)], docker=no_engine) == 1
    assert "no Docker engine answers `docker info`" in capsys.readouterr().err
