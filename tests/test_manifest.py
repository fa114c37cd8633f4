"""The manifest module: what generate.py writes, the deployer reads back unchanged, and any key
missing, unknown or of another type is a ManifestError naming it (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import generate
from environments import available, load
from manifest import Manifest, ManifestError

PATH = Path("build/x/manifest.json")


def written(env_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(generate.generate(load(env_name), "t")["manifest.json"])
    return data


def refused(data: object) -> str:
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(PATH, data)
    message = str(caught.value)
    assert message.startswith(f"{PATH}: malformed (")
    assert message.endswith("); regenerate it (make templates ENV=...)")
    return message


@pytest.mark.parametrize("env_name", available())
def test_what_generate_writes_reads_back_as_it_was_written(env_name: str) -> None:
    data = written(env_name)
    manifest = Manifest.from_dict(PATH, data)
    assert manifest.to_dict() == data
    assert manifest.stack("svc-web").template_path == PATH.parent / "svc-web.json"
    web = manifest.service("web")
    assert web.stack == "svc-web" and manifest.image_of(manifest.stack("svc-web")) == web.image
    assert manifest.image_of(manifest.stack("registry")) is None


def test_an_unknown_service_names_the_known_ones() -> None:
    manifest = Manifest.from_dict(PATH, written("production"))
    with pytest.raises(ManifestError, match="no service 'api'; the services are: web"):
        manifest.service("api")


@pytest.mark.parametrize("key", sorted(written("production")))
def test_every_top_level_key_is_required(key: str) -> None:
    data = written("production")
    del data[key]
    assert f"({key}: missing)" in refused(data)


@pytest.mark.parametrize("key", sorted(written("production")["stacks"][0]))
def test_every_stack_key_is_required(key: str) -> None:
    data = written("production")
    del data["stacks"][3][key]
    assert f"(stacks[3].{key}: missing)" in refused(data)


@pytest.mark.parametrize(
    ("where", "missing"),
    [
        (("services", 0, "image"), "services[0].image.tag"),
        (("services", 0), "services[0].url"),
        (("hosted_zone",), "hosted_zone.name"),
        (("static_assets",), "static_assets.prefix"),
        (("ci",), "ci.template"),
    ],
)
def test_nested_keys_are_required(where: tuple[str, ...], missing: str) -> None:
    data = written("production")
    target: Any = data
    for key in where:
        target = target[key]
    del target[missing.rsplit(".", 1)[1]]
    assert f"({missing}: missing)" in refused(data)


@pytest.mark.parametrize(
    "place",
    ["top", "stack", "service", "image", "from_stack", "certificate", "vpc_subnet"],
)
def test_an_unknown_key_anywhere_is_refused(place: str) -> None:
    data = written("staging")  # brings its VPC and its certificate
    service = data["stacks"][-1]
    target, named = {
        "top": (data, "extra"),
        "stack": (service, "stacks[3].extra"),
        "service": (data["services"][0], "services[0].extra"),
        "image": (data["services"][0]["image"], "services[0].image.extra"),
        "from_stack": (
            service["parameters_from_stacks"]["RepositoryName"],
            "stacks[3].parameters_from_stacks.RepositoryName.extra",
        ),
        "certificate": (data["certificate"], "certificate.extra"),
        "vpc_subnet": (data["vpc"]["subnets"][1], "vpc.subnets[1].extra"),
    }[place]
    target["extra"] = 1
    assert f"({named}: unknown key)" in refused(data)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(termination_protection="yes"), "must be true or false, not 'yes'"),
        (lambda d: d["stacks"][0].update(service=1), "service must be a string or null"),
        (
            lambda d: d["services"][0]["image"].update(tag=12),
            "services[0].image.tag must be a string, not 12",
        ),
        (
            lambda d: d["services"][0].update(stack="svc-nope"),
            "service 'web' is in stack 'svc-nope', which is not listed",
        ),
        (lambda d: d["stacks"][0].update(tags={"team": 1}), "must be an object of strings"),
        (lambda d: d["stacks"][0].update(depends_on="registry"), "must be a list of strings"),
        (lambda d: d["stacks"][0].update(role_arn=["arn"]), "must be a string or null"),
        (lambda d: d.update(stacks={}), "stacks must be a list of objects"),
        (lambda d: d["stacks"].reverse(), "depends on 'environment', which is not before it"),
    ],
)
def test_a_value_of_another_type_or_order_is_refused(change: Any, complaint: str) -> None:
    data = written("production")
    change(data)
    assert complaint in refused(data)


def test_a_parameter_from_a_stack_names_resources_or_an_output() -> None:
    data = written("production")
    data["stacks"][3]["parameters_from_stacks"]["VpcId"]["resources"] = []
    assert "VpcId.resources: empty" in refused(data)


def test_not_an_object_is_refused() -> None:
    assert "the manifest must be an object, not []" in refused([])
