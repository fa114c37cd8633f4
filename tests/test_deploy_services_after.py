"""After a deploy of several services, on moto's server over HTTP: the real local environment
(environments/local.toml: `web` and `api`) generated once, then deployed through local_aws.py
with image A (the stacks' create), then image B; each run's checks per service, `status` of
both, and `rollback SERVICE=web` back to A (the image the stack was created with: on moto that
needs local_conformance.bridge) with `api` left on B.

The tests share one deployed state and run in file order.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import test_deploy_support as support
from test_deploy_e2e import emulator_client, fresh_emulator, run_script

from deployer import verify

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "scalable-app-local"


@dataclass
class Stage:
    env: dict[str, str]
    builds: dict[str, Path]  # image tag -> build/local with that tag for every service
    first: str  # the stdout of the first deploy (image A)
    second: str  # of the second (image B)

    def run(self, script: str, *args: str, tag: str = "B"):
        return run_script(self.env, script, *args, "--build-dir", str(self.builds[tag]))

    def image_tag(self, stack: str) -> str:
        cf = emulator_client(self.env, "cloudformation")
        (found,) = cf.describe_stacks(StackName=f"{PREFIX}-{stack}")["Stacks"]
        values = {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]}
        return values["ImageTag"]


def with_tag(source: Path, target: Path, tag: str) -> Path:
    """A copy of the generated build whose every service runs image `tag`."""
    shutil.copytree(source, target)
    path = target / "manifest.json"
    manifest = json.loads(path.read_text())
    for service in manifest["services"]:
        service["image"]["tag"] = tag
    for stack in manifest["stacks"]:
        if "ImageTag" in stack["parameters"]:
            stack["parameters"]["ImageTag"] = tag
    path.write_text(json.dumps(manifest, indent=2))
    return target


@pytest.fixture(scope="module")
def stage(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    env = fresh_emulator(moto_endpoint, tmp_path_factory)
    # its own marker of the emulator's limits said (not the checkout's .local)
    env["LOCAL_AWS_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    generated = tmp_path_factory.mktemp("generated") / "local"
    done = run_script(env, "generate.py", "--env", "local", "--out", str(generated))
    assert done.returncode == 0, done.stderr
    builds = {tag: with_tag(generated, tmp_path_factory.mktemp(tag) / "local", tag) for tag in "AB"}
    outputs = []
    for tag in "AB":
        deployed = run_script(
            env, "local_aws.py", "deploy", "--build-dir", str(builds[tag]), "--yes"
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        outputs.append(deployed.stdout)
    yield Stage(env, builds, *outputs)


def section(stdout: str, service: str) -> list[str]:
    """The lines under one service's header of the checks after a deploy."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("After the ") and
                 f"(service {service}," in line)  # fmt: skip
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines)
    )
    return lines[start:end]


def test_each_deployed_service_is_checked_under_its_own_header(stage: Stage) -> None:
    for stdout, tag in ((stage.first, "A"), (stage.second, "B")):
        for service, url in (
            ("web", "https://local.example.com/_health"),
            ("api", "https://local.example.com/api/_health"),
        ):
            lines = section(stdout, service)
            assert lines[0] == (
                f"After the deploy of {PREFIX}-svc-{service} (service {service}, image {tag}):"
            )
            assert any(line.startswith("  rollout ") for line in lines), lines
            assert "  paging: 1 of 1 subscriptions confirmed" in lines
            (smoke,) = [line for line in lines if "smoke:" in line]
            assert smoke.endswith(f"so {url} cannot be reached"), smoke
            assert lines[-1] == (
                f"  recorded image {tag} in SSM parameter /{PREFIX}-svc-{service}/"
                "deployed-image-tag (make rollback goes back from it)"
            )


def test_the_emulators_missing_alarms_are_said_in_full_once(stage: Stage) -> None:
    """On the emulator's first deploy the first service's warning is the full one, the
    second's the one line; on the next deploy, one line for each."""
    web, api = section(stage.first, "web"), section(stage.first, "api")
    assert any(line.startswith("  WARNING: ") and "are not in CloudWatch" in line for line in web)
    assert not any("are not in CloudWatch" in line for line in api), api
    assert any("alarms MISSING: a known limit of this endpoint" in line for line in api), api
    for service in ("web", "api"):
        lines = section(stage.second, service)
        assert not any("are not in CloudWatch" in line for line in lines), lines


def test_the_json_lists_every_service_checked(stage: Stage) -> None:
    again = stage.run("deploy.py", "--env", "local", "--yes", "--output", "json")
    assert again.returncode == 0, again.stdout + again.stderr
    after = json.loads(again.stdout)["after_deploy"]
    assert [(a["service"], a["stack"], a["image_tag"]) for a in after] == [
        ("web", f"{PREFIX}-svc-web", "B"),
        ("api", f"{PREFIX}-svc-api", "B"),
    ]
    assert all(a["smoke"]["not_run"] for a in after)


def test_one_service_failing_its_checks_skips_no_others_and_is_named(
    stage: Stage, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An alarm of api in ALARM: moto's CloudFormation creates no alarms, so that state is
    made here, by wrapping the alarm read (verify.verify) for api's stack alone; everything
    else is moto's. web is still checked and recorded; the run exits 1 naming api."""
    real = verify.verify

    def api_alarm_firing(
        client: Any,
        template: dict[str, Any],
        physical: dict[str, str],
        upstream: dict[str, str | None] | None = None,
    ) -> verify.Verification:
        found = real(client, template, physical, upstream)
        if not any("svc-api" in str(value) for value in physical.values()):
            return found
        first = found.alarms[0]
        firing = verify.AlarmState(first.logical_id, "api-5xx", "ALARM", "Threshold Crossed")
        return replace(found, alarms=[firing, *found.alarms[1:]])

    monkeypatch.setattr(verify, "verify", api_alarm_firing)
    for name, value in stage.env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    code, progress, document = support.run_json(stage.builds["B"], capsys, "--yes")
    assert code == 1, progress
    assert document["error"] == "the checks after the deploy failed for 1 of 2 services: api"
    after = {a["service"]: a for a in document["after_deploy"]}
    assert "failed" not in after["web"] and after["web"]["recorded_in"]
    assert after["api"]["failed"] == f"{PREFIX}-svc-api deployed, but the checks after it failed"
    assert "recorded_in" not in after["api"]
    assert any(
        line.startswith("api: Alarm ") and "(api-5xx) is in ALARM: Threshold Crossed" in line
        for line in document["report"]
    ), document["report"]
    assert any("make rollback ENV=local SERVICE=api" in line for line in document["report"])


def test_status_shows_every_service(stage: Stage) -> None:
    shown = stage.run("local_aws.py", "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for service in ("web", "api"):
        assert f"Service {service} ({PREFIX}-svc-{service}):" in shown.stdout
    assert shown.stdout.count("  image: B deployed; the same as this checkout's") == 2
    for service in ("web", "api"):
        assert f"  rollback: make rollback SERVICE={service} would go back to A" in shown.stdout
    # each service's alarms page the environment stack's topic: its subscription is read
    assert shown.stdout.count("  paging: 1 of 1 subscriptions confirmed") == 2
    table = stage.run("deploy.py", "status", "--env", "local", "--output", "markdown")
    for service in ("web", "api"):
        assert f"#### Service `{service}` (`{PREFIX}-svc-{service}`)" in table.stdout
    as_json = stage.run("deploy.py", "status", "--env", "local", "--output", "json")
    found = json.loads(as_json.stdout)["status"]
    assert [s["name"] for s in found["services"]] == ["web", "api"]
    assert [s["image"]["deployed"] for s in found["services"]] == ["B", "B"]
    narrowed = stage.run("deploy.py", "status", "--env", "local", "--service", "api",
                         "--output", "json")  # fmt: skip
    assert [s["name"] for s in json.loads(narrowed.stdout)["status"]["services"]] == ["api"]


def test_rollback_without_a_service_names_them(stage: Stage) -> None:
    refused = stage.run("deploy.py", "rollback", "--env", "local", "--yes")
    assert refused.returncode == 1
    assert (
        "error: environments/local.toml has 2 services (web, api): name the service, e.g. "
        "make rollback ENV=local SERVICE=web (deploy.py rollback --service NAME)"
    ) in refused.stdout
    assert stage.image_tag("svc-web") == "B"


def test_rollback_of_one_service_puts_its_first_image_back_and_leaves_the_other(
    stage: Stage,
) -> None:
    rolled = stage.run("deploy.py", "rollback", "--env", "local", "--service", "web", "--yes",
                       "--output", "json")  # fmt: skip
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    document = json.loads(rolled.stdout)
    (web,) = [s for s in document["stacks"] if s["key"] == "svc-web"]
    assert [(p["path"], p["before"], p["after"]) for p in web["review"]["parameters"]] == [
        ("ImageTag", "B", "A")
    ]
    assert [a["service"] for a in document["after_deploy"]] == ["web"]
    assert stage.image_tag("svc-web") == "A"
    assert stage.image_tag("svc-api") == "B"
    ssm = emulator_client(stage.env, "ssm")
    history = ssm.get_parameter_history(Name=f"/{PREFIX}-svc-web/deployed-image-tag")
    assert [(v["Value"], v["Description"].split(":")[0]) for v in history["Parameters"]] == [
        ("A", "deploy"),
        ("B", "deploy"),
        ("A", "rollback"),
    ]
    untouched = ssm.get_parameter_history(Name=f"/{PREFIX}-svc-api/deployed-image-tag")
    assert [v["Value"] for v in untouched["Parameters"]] == ["A", "B"]
