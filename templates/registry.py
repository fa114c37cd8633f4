"""The ECR repository the service's images are pushed to.

It lives in a stack of its own because it must exist before the first image is pushed, and it
outlives every deployment of the service. Its name is explicit and lowercase (ECR rejects
capitals, and the push step needs to know it before the stack exists).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import Template, ecr

# Untagged images are the leftovers of re-pushed builds; tagged ones are releases.
UNTAGGED_IMAGE_DAYS = 14


# The logical ID the service stack's RepositoryName parameter is filled from.
REPOSITORY = "Repository"


@dataclass(frozen=True)
class Registry:
    repository: ecr.Repository


def repository_name(service_name: str, environment_name: str) -> str:
    return f"{service_name}-{environment_name}".lower()


def lifecycle_policy() -> str:
    """ECR's lifecycle policy document (ECR takes it as JSON text, not as CloudFormation)."""
    rule = {
        "rulePriority": 1,
        "description": f"Expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": UNTAGGED_IMAGE_DAYS,
        },
        "action": {"type": "expire"},
    }
    return json.dumps({"rules": [rule]}, sort_keys=True)


def add_registry(template: Template, name: str) -> Registry:
    repository = template.add_resource(
        ecr.Repository(
            REPOSITORY,
            RepositoryName=name,
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            # KMS with ECR's AWS-managed key: images are encrypted with KMS, no key to run.
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="KMS"),
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=lifecycle_policy()),
        )
    )
    return Registry(repository=repository)
