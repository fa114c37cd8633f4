"""The CloudWatch Logs group the containers write to, kept for the configured number of days."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Output, Template, kms, logs

from templates.imported import Imported

LOG_GROUP = "LogGroup"  # its name is CloudFormation's: <stack name>-LogGroup-<random>


@dataclass(frozen=True)
class Logs:
    group: logs.LogGroup


def add_logs(template: Template, retention_days: int, key: kms.Key | Imported) -> Logs:
    group = template.add_resource(
        logs.LogGroup(
            LOG_GROUP,
            # The logs of an incident must survive a teardown or a replacement of the stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            RetentionInDays=retention_days,
            KmsKeyId=key.get_att("Arn"),
        )
    )
    template.add_output(
        Output("LogGroupName", Description="aws logs tail <this> --follow", Value=group.ref())
    )
    return Logs(group=group)
