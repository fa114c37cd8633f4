"""The [services.<name>] tables (issue 18): each refusal names the file, the field and the fix;
listener-rule priorities are the tool's, deterministic, and most specific first."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from test_environments import error_of

import environments
from environments.model import Route
from environments.services import BAND, MAX_SERVICES, default_priority

LOCAL = environments.path_of("local").read_text()
# local.toml's shared tables, without its services.
SHARED = LOCAL[: LOCAL.index("[services.")]


def write(tmp_path: Path, services: str, shared: str = SHARED) -> Path:
    path = tmp_path / "many.toml"
    path.write_text(shared + services)
    return path


def service(name: str, **fields: object) -> str:
    body = "".join(f"{key} = {_toml(value)}\n" for key, value in fields.items())
    return f"\n[services.{name}]\n{body}"


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_services_load_with_their_routes_and_defaults(tmp_path: Path) -> None:
    env = environments.load(
        write(
            tmp_path,
            service("web")
            + service("api", path="/api", port=9000, health_path="/ping")
            + service("admin", host="admin.example.com", image="public.ecr.aws/x/admin:1.0"),
        )
    )
    web, api, admin = env.services
    assert env.app == "scalable-app"
    assert (web.route.host, web.route.path, web.port) == ("local.example.com", None, 8448)
    assert (api.route.path, api.port, api.health_path) == ("/api", 9000, "/ping")
    assert web.image.dockerfile == "Dockerfile" and web.image.uri is None
    assert admin.image.uri == "public.ecr.aws/x/admin:1.0" and admin.image.dockerfile is None
    assert admin.route.host == "admin.example.com"


def test_the_old_service_table_is_refused_with_its_rewrite(tmp_path: Path) -> None:
    old = '[service]\nname = "shop"\ncpu = 256\nmemory = 512\n'
    error = error_of(write(tmp_path, old))
    assert error.field == "service"
    assert 'app = "shop"\n\n[services.web]\ncpu = 256\nmemory = 512' in error.message


def test_two_services_with_the_same_host_and_path_are_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, service("api", path="/api") + service("v1", path="/api")))
    assert error.field == "services.v1.path"
    assert "services.api already routes local.example.com/api" in error.message
    assert "another host or path" in error.message


def test_a_host_outside_the_hosted_zone_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, service("web", host="shop.example.org")))
    assert error.field == "services.web.host"
    assert "outside the hosted zone example.com" in error.message
    assert "such as api.example.com" in error.message


def test_more_services_than_one_load_balancer_takes_are_refused(tmp_path: Path) -> None:
    many = "".join(service(f"s{i}", path=f"/s{i}") for i in range(MAX_SERVICES + 1))
    error = error_of(write(tmp_path, many))
    assert error.field == "services"
    assert "at most 100 listener rules and 100 target groups" in error.message
    assert "split them into environments of 100 services at most" in error.message


@pytest.mark.parametrize(
    "name",
    ["Web", "web_api", "1web", "web-", "a--b", "a" * 21, "ünicode"],
)
def test_a_name_that_is_not_dns_safe_is_refused(tmp_path: Path, name: str) -> None:
    error = error_of(write(tmp_path, f'\n[services."{name}"]\n'))
    assert error.field == f"services.{name}"
    assert "not DNS-safe" in error.message and "starting with a letter" in error.message


def test_a_secret_must_be_an_ssm_parameter_or_a_secrets_manager_arn(tmp_path: Path) -> None:
    fine = '\n[services.web.secrets]\nDB_PASSWORD = "/shop/db-password"\n'
    fine += 'API_KEY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/api-AbCdEf"\n'
    env = environments.load(write(tmp_path, "\n[services.web]\n" + fine))
    assert env.services[0].secrets["DB_PASSWORD"] == "/shop/db-password"
    error = error_of(write(tmp_path, '\n[services.web.secrets]\nDB = "password123"\n'))
    assert error.field == "services.web.secrets.DB"
    assert "SSM parameter name" in error.message


def test_priorities_put_a_path_before_its_host_and_do_not_depend_on_other_services(
    tmp_path: Path,
) -> None:
    three = service("web") + service("api", path="/api") + service("v2", path="/api/v2")
    env = environments.load(write(tmp_path, three))
    priority = {s.name: s.priority for s in env.services}
    # The HTTPS listener evaluates the lowest priority first: the deepest path, then /api,
    # then the host alone.
    assert priority["v2"] < priority["api"] < priority["web"]
    # Removing, adding and reordering services changes no other service's priority.
    again = environments.load(
        write(
            tmp_path, service("extra", path="/x") + service("v2", path="/api/v2") + service("web")
        )
    )
    assert {s.name: s.priority for s in again.services if s.name != "extra"} == {
        "v2": priority["v2"],
        "web": priority["web"],
    }
    assert len({s.priority for s in again.services}) == 3


def test_colliding_priorities_are_refused_naming_the_override(tmp_path: Path) -> None:
    names = (f"s{i}" for i in itertools.count())
    seen: dict[int, str] = {}
    for name in names:  # two names whose hashes collide in the path band
        number = default_priority(name, Route("local.example.com", "/a"))
        if number in seen:
            first, second = seen[number], name
            break
        seen[number] = name
    colliding = service(first, path=f"/{first}") + service(second, path=f"/{second}")
    error = error_of(write(tmp_path, colliding))
    assert error.field == f"services.{second}.priority"
    assert f"also services.{first}'s" in error.message and "set priority" in error.message
    band = (number - 1) // BAND
    settled = colliding + f"priority = {band * BAND + 1 + (number % BAND)}\n"
    assert environments.load(write(tmp_path, settled)).services[1].priority != number


def test_a_priority_outside_its_band_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, service("web", priority=1)))
    assert error.field == "services.web.priority"
    assert "from 40001 to 50000" in error.message
