"""Services side by side (issue 18): generating twice, a change to one service's table changes
its template only; a new service leaves the others' templates byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import generate
from environments import ConfigError, load

LOCAL = (Path(__file__).parent.parent / "environments/local.toml").read_text()
SHARED = LOCAL[: LOCAL.index("[services.")]
THREE = """
[services.web]
min_count = 1

[services.api]
path = "/api"
min_count = 1
max_count = 2

[services.admin]
host = "admin.example.com"
min_count = 1
"""
FOURTH = """
[services.jobs]
path = "/jobs"
min_count = 1
"""


def _files(tmp_path: Path, services: str, name: str = "many") -> dict[str, str]:
    path = tmp_path / f"{name}.toml"
    path.write_text(SHARED + services)
    return generate.generate(load(path), "0123456789ab")


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The files that differ. The manifest always does when the file does (it records the
    file's SHA-256): it is named only where more than that changes."""
    changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    return changed - {"manifest.json"}


def test_a_fourth_service_leaves_the_other_services_templates_byte_identical(
    tmp_path: Path,
) -> None:
    before = _files(tmp_path, THREE)
    after = _files(tmp_path, THREE + FOURTH)
    # Its own stack is new; the environment stack gains nothing for a path on the domain. No
    # other service's template changes by a byte.
    assert _changed(before, after) == {"svc-jobs.json"}
    # Reordering the tables changes no template.
    reordered = FOURTH + THREE
    assert _changed(after, _files(tmp_path, reordered)) == set()


def test_a_service_on_a_host_of_its_own_adds_its_record_to_the_environment_stack(
    tmp_path: Path,
) -> None:
    before = _files(tmp_path, THREE)
    after = _files(tmp_path, THREE + '\n[services.shop]\nhost = "shop.example.com"\n')
    assert _changed(before, after) == {"svc-shop.json", "environment.json"}
    assert "DnsRecordShop" in after["environment.json"]


def test_changing_one_services_counts_changes_only_its_template(tmp_path: Path) -> None:
    before = _files(tmp_path, THREE)
    after = _files(tmp_path, THREE.replace("max_count = 2", "max_count = 5"))
    assert _changed(before, after) == {"svc-api.json"}


def test_removing_a_service_changes_no_other_services_template(tmp_path: Path) -> None:
    before = _files(tmp_path, THREE + FOURTH)
    after = _files(tmp_path, THREE)
    assert _changed(before, after) == {"svc-jobs.json"}


def test_secrets_reach_the_task_definition_and_the_execution_role_alone(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/api-AbCdEf"
    secrets = f'\n[services.web.secrets]\nDB_PASSWORD = "/shop/db"\nAPI_KEY = "{arn}"\n'
    files = _files(tmp_path, THREE + secrets)
    template = json.loads(files["svc-web.json"])["Resources"]
    (container,) = template["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    parameter = {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/shop/db"
    }
    assert container["Secrets"] == [
        {"Name": "API_KEY", "ValueFrom": arn},
        {"Name": "DB_PASSWORD", "ValueFrom": parameter},
    ]
    (execution,) = template["TaskExecutionRole"]["Properties"]["Policies"]
    reads = {
        (tuple(s["Action"]), json.dumps(s["Resource"]))
        for s in execution["PolicyDocument"]["Statement"]
        if s["Sid"].startswith("ReadServiceSecrets")
    }
    assert reads == {
        (("ssm:GetParameters",), json.dumps([parameter])),
        (("secretsmanager:GetSecretValue",), json.dumps([arn])),
    }
    assert "Policies" not in template["TaskRole"]["Properties"]  # the app's role reads none
    # The boundary every role of the stack carries admits those reads, and no others.
    boundary = template["WorkloadBoundary"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = {json.dumps(s["Resource"]) for s in boundary if "Secrets" in s["Sid"]}
    assert allowed == {json.dumps([parameter]), json.dumps([arn])}
    # The other services' templates do not change for web's secrets.
    assert _changed(_files(tmp_path, THREE), files) == {"svc-web.json"}


def test_another_dockerfile_is_refused_until_it_is_built(tmp_path: Path) -> None:
    """One registry repository and one `make push` build: a second Dockerfile would be pushed
    as this repository's image. The error says how to deploy it today (an image URI)."""
    path = tmp_path / "other.toml"
    path.write_text(SHARED + '\n[services.web]\ndockerfile = "worker/Dockerfile"\n')
    with pytest.raises(ConfigError) as caught:
        generate.build(load(path), "t")
    assert caught.value.field == "services.web.dockerfile"
    assert 'image = "<registry>/<name>:<tag>"' in caught.value.message


def test_services_configured_alike_share_one_template_their_route_in_parameters(
    tmp_path: Path,
) -> None:
    alike = FOURTH + '\n[services.reports]\npath = "/reports"\nmin_count = 1\n'
    files = _files(tmp_path, THREE + alike)
    # The same bytes (generate.py lints them once), naming neither service.
    assert files["svc-jobs.json"] == files["svc-reports.json"]
    assert "jobs" not in files["svc-jobs.json"] and "reports" not in files["svc-jobs.json"]
    # Each stack's own route and priority are the parameters the deployer passes.
    stacks = {s["key"]: s["parameters"] for s in json.loads(files["manifest.json"])["stacks"]}
    env = load(tmp_path / "many.toml")
    for name in ("jobs", "reports"):
        (service,) = [s for s in env.services if s.name == name]
        assert stacks[f"svc-{name}"]["RoutePath"] == f"/{name}"
        assert stacks[f"svc-{name}"]["RouteHost"] == service.route.host
        assert stacks[f"svc-{name}"]["RulePriority"] == str(service.priority)
    # Configured differently, the template differs.
    assert files["svc-api.json"] != files["svc-jobs.json"]


def test_a_route_parameter_refuses_what_the_file_would(tmp_path: Path) -> None:
    """A value typed in the console instead of the manifest's meets the file's own rules."""
    import re

    from environments.services import MAX_PRIORITY, PATH_PREFIX

    template = json.loads(_files(tmp_path, THREE)["svc-api.json"])
    path, priority = template["Parameters"]["RoutePath"], template["Parameters"]["RulePriority"]
    assert path["AllowedPattern"] == PATH_PREFIX.pattern
    assert re.fullmatch(path["AllowedPattern"], "/api")
    assert not re.fullmatch(path["AllowedPattern"], "/api/*")
    assert (priority["MinValue"], priority["MaxValue"]) == (1, MAX_PRIORITY)
