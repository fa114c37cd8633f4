"""Push the service image to an environment's ECR repository.

Verbs take the ECR client and a `Docker` as arguments; only `push.py`'s main() turns the
exceptions into exit codes. Nothing is stored: the registry password is ECR's short-lived
authorization token from boto3, handed to `docker login --password-stdin` (never on a command
line) inside a throwaway DOCKER_CONFIG directory that is deleted when the push ends. The tag is
the manifest's (the git revision generate.py resolved); `latest` is refused.
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from environments.model import IMAGE_TAG_PATTERN

# Docker's tag grammar; `latest` is not a revision and would make deploys unrepeatable.
_TAG = re.compile(IMAGE_TAG_PATTERN)
FORBIDDEN_TAGS = frozenset({"latest"})

Runner = Callable[..., subprocess.CompletedProcess[str]]


class PushError(Exception):
    """Anything that stops a push; str() is a message for a person."""


class NoDockerEngine(PushError):
    pass


class ImageNotBuilt(PushError):
    pass


class RepositoryNotFound(PushError):
    pass


@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    username: str  # always "AWS" for ECR
    password: str = field(repr=False)  # the token: valid 12 hours, never written anywhere


def get_login(ecr: Any) -> RegistryLogin:
    """ECR's authorization token, decoded into what `docker login` needs."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    if not password:
        raise PushError("ECR returned an authorization token without a password")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    return RegistryLogin(registry=registry.rstrip("/"), username=username, password=password)


def repository_uri(ecr: Any, repository_name: str) -> str:
    try:
        response = ecr.describe_repositories(repositoryNames=[repository_name])
    except ecr.exceptions.RepositoryNotFoundException:
        raise RepositoryNotFound(
            f"ECR repository {repository_name!r} does not exist in this account and region: "
            "deploy the registry stack first (make deploy ENV=... creates it)"
        ) from None
    return response["repositories"][0]["repositoryUri"]


def check_tag(tag: str) -> str:
    if tag in FORBIDDEN_TAGS or not _TAG.fullmatch(tag):
        raise PushError(
            f"image tag {tag!r} is not a revision: push a git revision (generate.py's image.tag)"
        )
    return tag


class Docker:
    """The docker command line, run through `run` (subprocess.run; tests pass a fake)."""

    def __init__(self, run: Runner = subprocess.run, executable: str = "docker") -> None:
        self._run = run
        self.executable = executable

    def _docker(
        self, *args: str, config_dir: str | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.executable, *(["--config", config_dir] if config_dir else []), *args]
        try:
            return self._run(argv, input=stdin, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise NoDockerEngine(f"`{self.executable}` is not installed") from None

    def _checked(self, *args: str, config_dir: str | None = None, stdin: str | None = None) -> None:
        result = self._docker(*args, config_dir=config_dir, stdin=stdin)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise PushError(f"docker {args[0]} failed ({result.returncode}): {detail}")

    def require_engine(self) -> None:
        if self._docker("info").returncode != 0:
            raise NoDockerEngine(
                "no Docker engine answers `docker info`: start Docker (or point DOCKER_HOST at "
                "one) to build and push the image; nothing was pushed"
            )

    def require_image(self, reference: str) -> None:
        if self._docker("image", "inspect", reference).returncode != 0:
            raise ImageNotBuilt(
                f"no local image {reference}: build it with `make image` at that revision"
            )

    def login(self, login: RegistryLogin, config_dir: str) -> None:
        self._checked(
            "login",
            "--username",
            login.username,
            "--password-stdin",
            login.registry,
            config_dir=config_dir,
            stdin=login.password,
        )

    def tag(self, source: str, target: str) -> None:
        self._checked("tag", source, target)

    def push(self, target: str, config_dir: str) -> None:
        self._checked("push", target, config_dir=config_dir)


def push_image(
    ecr: Any, docker: Docker, *, local_image: str, repository_name: str, tag: str
) -> str:
    """Tag `local_image:tag` as `<repository uri>:tag` and push it; returns the pushed reference."""
    check_tag(tag)
    source = f"{local_image}:{tag}"
    docker.require_engine()
    docker.require_image(source)
    target = f"{repository_uri(ecr, repository_name)}:{tag}"
    login = get_login(ecr)
    with tempfile.TemporaryDirectory(prefix="scalable-app-docker-") as config_dir:
        docker.login(login, config_dir)
        docker.tag(source, target)
        docker.push(target, config_dir)
    return target
