"""A service's secrets ([services.<name>.secrets]): the task definition's `Secrets`, which ECS
reads with the execution role when it starts a task, so the execution role alone is granted
them, each by its ARN (the application's task role gets none).

An SSM parameter is read with ssm:GetParameters, a Secrets Manager secret with
secretsmanager:GetSecretValue (AWS's "Pass sensitive data to an Amazon ECS container"). No
kms:Decrypt: a SecureString or a secret under the account's AWS-managed key (aws/ssm,
aws/secretsmanager) is decrypted by the service on the caller's behalf; a customer-managed key
would need its own key policy grant, which is that key's owner's to give.
"""

from __future__ import annotations

from collections.abc import Mapping

import awacs.secretsmanager as asecrets
import awacs.ssm as assm
from awacs.aws import Allow, Statement
from troposphere import Sub

READ_PARAMETERS = [assm.GetParameters]
READ_SECRETS = [asecrets.GetSecretValue]


def is_parameter(source: str) -> bool:
    """An SSM parameter's name ("/a/b"); else a Secrets Manager secret's ARN."""
    return source.startswith("/")


def source_arn(source: str) -> object:
    """What the task definition's ValueFrom and the grant name: the full ARN."""
    if is_parameter(source):
        return Sub(
            f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{source}"
        )
    return source


def read_statements(secrets: Mapping[str, str], sid: str = "ReadServiceSecrets") -> list[Statement]:
    """Reads of exactly these secrets (none when there are none)."""
    sources = sorted(set(secrets.values()))
    parameters = [source_arn(s) for s in sources if is_parameter(s)]
    managed = [source_arn(s) for s in sources if not is_parameter(s)]
    statements = []
    if parameters:
        statements.append(
            Statement(
                Sid=f"{sid}Parameters", Effect=Allow, Action=READ_PARAMETERS, Resource=parameters
            )
        )
    if managed:
        statements.append(
            Statement(Sid=f"{sid}Managed", Effect=Allow, Action=READ_SECRETS, Resource=managed)
        )
    return statements
