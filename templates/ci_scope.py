"""What the ci stack's roles are confined to, and the ARNs that say it."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Sub


@dataclass(frozen=True)
class Scope:
    """What the CI roles and the CloudFormation role are confined to: `prefix` starts the name
    of every app stack, and of every resource CloudFormation names after one."""

    prefix: str  # "<service>-<environment>"
    environment: str  # its name, also the GitHub environment's
    repository: str  # the ECR repository's name
    ssm_parameters: tuple[str, ...]  # what the stacks' parameters read from SSM
    region: str = "us-east-1"  # the stacks' region: the resource schemas are per region
    # Every service's secrets (variable -> SSM name or secret ARN): the workload boundary
    # admits their reads.
    secrets: tuple[tuple[str, str], ...] = ()
    # Some service deploys blue/green, canary or linear: ECS's traffic-shift role is passed to
    # ECS, the workload boundary admits it, and the deployer answers the deployment's pause.
    progressive: bool = False


def arn(service: str, resource: str, *, regional: bool = True, region: str | None = None) -> Sub:
    """`arn:<partition>:<service>:<region>:<account>:<resource>` in this account (`region`
    overrides the stack's: "*" for a certificate in any region)."""
    where = (
        f"{region or '${AWS::Region}'}:${{AWS::AccountId}}" if regional else ":${AWS::AccountId}"
    )
    if service in {"s3", "route53"}:
        where = ":"
    return Sub(f"arn:${{AWS::Partition}}:{service}:{where}:{resource}")
