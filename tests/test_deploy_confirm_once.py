"""A deploy asks once for the whole environment, after every plan is shown; --confirm-each
keeps one question per stack. In-process on moto over HTTP (a person at the prompt is the
`confirm` callable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import test_deploy_support as support

import local_aws
from deployer import manifest as manifests
from deployer.errors import Declined
from deployer.run import CREATED, Deployer, Options
from deployer.session import Aws


def first_deploy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: bool, **options: Any
) -> tuple[Deployer, list[str]]:
    manifest = manifests.load(support.write(tmp_path / "local"))
    local_aws.bootstrap(manifest, Aws(manifest.region))  # the zone and the SSM parameter
    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return answer

    real_apply = Deployer.apply

    def apply(self: Deployer, planned: Any) -> Any:  # the image, once its registry exists,
        result = real_apply(self, planned)  # as local_aws.py registers it in place of a push
        if planned.spec.key == "registry":
            local_aws.push_stand_in(manifest, boto3.client("ecr"))
        return result

    monkeypatch.setattr(Deployer, "apply", apply)
    opts = Options(
        execute=True, yes=False, revision="t", confirm=confirm,
        environ={support.PAGERDUTY_VAR: "https://events.pagerduty.com/x"}, **options,
    )  # fmt: skip
    return Deployer(Aws(manifest.region), manifest, opts, lambda _line: None), asked


def test_a_first_deploy_asks_once_after_every_plan_is_shown(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: three questions, one per stack, each before the next plan was made."""
    deployer, asked = first_deploy(tmp_path, monkeypatch, True)
    results = deployer.run(list(deployer.manifest.stacks))
    assert len(asked) == 1
    assert "(test-network, test-registry)" in asked[0]
    assert "Then test-service" in asked[0]  # it reads their outputs: planned after them
    assert [r.outcome for r in results] == [CREATED, CREATED, CREATED]


def test_a_no_deletes_every_change_set_and_creates_nothing(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployer, asked = first_deploy(tmp_path, monkeypatch, False)
    with pytest.raises(Declined, match="2 change set"):
        deployer.run(list(deployer.manifest.stacks))
    assert len(asked) == 1
    stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks)


def test_confirm_each_asks_for_each_stack(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployer, asked = first_deploy(tmp_path, monkeypatch, True, confirm_each=True)
    deployer.run(list(deployer.manifest.stacks))
    assert len(asked) == 3
