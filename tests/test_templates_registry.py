"""The registry stack: the ECR repository images are pushed to."""

from __future__ import annotations

import json

from environments import load
from templates import build_stacks


def _repository() -> dict[str, object]:
    (registry,) = [s for s in build_stacks(load("production"), "test") if s.key == "registry"]
    return registry.template.to_dict()["Resources"]["Repository"]["Properties"]


def test_repository_name_is_explicit_and_lowercase() -> None:
    assert _repository()["RepositoryName"] == "scalable-app-production"


def test_tags_are_immutable_scanned_and_encrypted_with_kms() -> None:
    repository = _repository()
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["EncryptionConfiguration"] == {"EncryptionType": "KMS"}


def test_lifecycle_policy_expires_untagged_images() -> None:
    policy = json.loads(_repository()["LifecyclePolicy"]["LifecyclePolicyText"])
    (rule,) = policy["rules"]
    assert rule["selection"]["tagStatus"] == "untagged"
    assert rule["selection"]["countType"] == "sinceImagePushed"
    assert rule["action"] == {"type": "expire"}


def test_registry_stack_comes_first_among_what_the_service_needs() -> None:
    stacks = build_stacks(load("production"), "test")
    keys = [s.key for s in stacks]
    assert keys.index("registry") < keys.index("svc-web")
    (service,) = [s for s in stacks if s.key == "svc-web"]
    assert service.parameters_from_stacks["RepositoryName"].resources == ("Repository",)
