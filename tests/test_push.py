"""The push: login and tagging logic of the image push, against the emulator's ECR and a fake
docker; the static assets upload, against the emulator's S3 and CloudFormation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

import push
from deployer.assets_push import CACHE_CONTROL, local_files, upload_assets
from deployer.registry_push import (
    Docker,
    ImageNotBuilt,
    NoDockerEngine,
    PushError,
    RepositoryNotFound,
    get_login,
    push_image,
)
from manifest import Image, StackSpec, StaticAssets

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "scalable-app-local"
TAG = "0123456789ab"
STATIC_STACK = "test-static"


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


def write_manifest(build: Path, env: str = "local", cdn: bool = False) -> None:
    """A build manifest written through the manifest module, with or without a CDN."""
    directory = build / env
    stacks = [
        StackSpec("registry", "test-registry", directory / "r.json"),
        StackSpec("svc-web", "test-svc-web", directory / "svc-web.json", service="web"),
    ]
    assets = None
    if cdn:
        stacks.append(StackSpec("static", STATIC_STACK, directory / "static.json"))
        assets = StaticAssets("static", "StaticAssetsBucket", Path("assets"), f"{TAG}/")
    manifest = support.manifest_of(
        directory,
        tuple(stacks),
        environment=env,
        source=f"environments/{env}.toml",
        services=support.web_service(Image(REPOSITORY, TAG), stack="svc-web"),
        static_assets=assets,
    )
    support.save(directory, manifest)


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


# ---- static assets -------------------------------------------------------------------------


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    """A checkout's root with an `assets` directory (the manifest's source)."""
    source = tmp_path / "root" / "assets"
    (source / "js").mkdir(parents=True)
    (source / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (source / "site.css").write_text("body { margin: 0 }")
    (source / "js" / "app.js").write_text("console.log(1)")
    (source / ".DS_Store").write_bytes(b"\0")
    return tmp_path / "root"


@pytest.fixture
def static_stack(aws: dict[str, str]) -> str:
    """The static stack as moto can have it: the bucket, no CloudFront. Returns its bucket."""
    template = {"Resources": {"StaticAssetsBucket": {"Type": "AWS::S3::Bucket"}}}
    cf = boto3.client("cloudformation")
    cf.create_stack(StackName=STATIC_STACK, TemplateBody=json.dumps(template))
    (resource,) = cf.describe_stack_resources(StackName=STATIC_STACK)["StackResources"]
    return str(resource["PhysicalResourceId"])


def _push(build: Path, root: Path, *extra: str, docker: Docker | None = None) -> int:
    argv = ["--env", "local", "--build-dir", str(build), "--root", str(root), *extra]
    return push.main(argv, docker=docker)


def test_assets_go_under_the_revision_with_type_and_immutable_caching(
    static_stack: str, assets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "build", cdn=True)
    assert _push(tmp_path / "build", assets, "--assets-only") == 0
    assert capsys.readouterr().out.strip() == (
        f"assets: 3 uploaded, 0 unchanged in s3://{static_stack}/{TAG}/"
    )
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=static_stack)["Contents"]]
    assert sorted(keys) == [f"{TAG}/js/app.js", f"{TAG}/logo.svg", f"{TAG}/site.css"]
    expected_types = {
        "logo.svg": "image/svg+xml; charset=utf-8",
        "site.css": "text/css; charset=utf-8",
        "js/app.js": "text/javascript; charset=utf-8",
    }
    for name, content_type in expected_types.items():
        head = s3.head_object(Bucket=static_stack, Key=f"{TAG}/{name}")
        assert head["CacheControl"] == CACHE_CONTROL == "public, max-age=31536000, immutable"
        assert head["ContentType"] == content_type
    body = s3.get_object(Bucket=static_stack, Key=f"{TAG}/logo.svg")["Body"].read()
    assert body == (assets / "assets" / "logo.svg").read_bytes()


def test_a_second_push_sends_only_what_changed(
    static_stack: str, assets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "build", cdn=True)
    assert _push(tmp_path / "build", assets, "--assets-only") == 0
    capsys.readouterr()
    assert _push(tmp_path / "build", assets, "--assets-only") == 0
    assert "0 uploaded, 3 unchanged" in capsys.readouterr().out
    (assets / "assets" / "site.css").write_text("body { margin: 1px }")
    uploaded = upload_assets(boto3.client("s3"), static_stack, assets / "assets", f"{TAG}/")
    assert uploaded.sent == (f"{TAG}/site.css",)
    assert len(uploaded.unchanged) == 2


def test_assets_are_uploaded_before_the_image_is_pushed(
    static_stack: str, ecr: Any, assets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "build", cdn=True)
    fake = FakeDocker()
    assert _push(tmp_path / "build", assets, docker=Docker(fake)) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.startswith("assets: 3 uploaded") and second.startswith("pushed ")
    # Without a Docker engine the assets are still uploaded, and the failure is the image's.
    no_engine = Docker(FakeDocker(fail={"info": 1}))
    assert _push(tmp_path / "build", assets, docker=no_engine) == 1
    captured = capsys.readouterr()
    assert "0 uploaded, 3 unchanged" in captured.out
    assert "no Docker engine" in captured.err


def test_without_a_cdn_nothing_is_uploaded_and_push_says_so(
    aws: dict[str, str], assets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "build", cdn=False)
    fake = FakeDocker()
    assert _push(tmp_path / "build", assets, "--assets-only", docker=Docker(fake)) == 0
    assert "has no CDN" in capsys.readouterr().out
    assert fake.calls == []  # --assets-only: no docker at all
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_assets_before_the_static_stack_exists_say_deploy_it(
    aws: dict[str, str], assets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "build", cdn=True)
    assert _push(tmp_path / "build", assets, "--assets-only") == 1
    assert "deploy the static stack before pushing" in capsys.readouterr().err


def test_the_real_manifest_uploads_what_the_app_serves() -> None:
    """The manifest's source is the directory the app mounts (service/app.py)."""
    import generate
    from environments import load
    from service.app import STATIC_DIR

    manifest = json.loads(generate.generate(load("production"), TAG)["manifest.json"])
    assert ROOT / manifest["static_assets"]["source"] == STATIC_DIR
    assert [name for name, _ in local_files(STATIC_DIR)] == ["logo.svg"]
