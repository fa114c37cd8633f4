"""The task's two roles: exactly what each may do, and no wildcard action anywhere."""

from __future__ import annotations

from typing import Any

from templates_support import stack_template


def _statements(role: str) -> list[dict[str, Any]]:
    props = stack_template()["Resources"][role]["Properties"]
    documents = [p["PolicyDocument"] for p in props["Policies"]]
    assert all(d["Version"] == "2012-10-17" for d in documents)
    return [s for d in documents for s in d["Statement"]]


def _granted(role: str) -> set[str]:
    return {action for s in _statements(role) for action in s["Action"]}


def test_execution_role_pulls_the_image_and_writes_logs_only() -> None:
    assert _granted("TaskExecutionRole") == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_task_role_grants_nothing_the_app_calls_no_aws_api() -> None:
    assert "Policies" not in stack_template()["Resources"]["TaskRole"]["Properties"]
    assert "ManagedPolicyArns" not in stack_template()["Resources"]["TaskRole"]["Properties"]


def test_no_wildcard_action_and_star_resource_only_for_the_registry_token() -> None:
    for statement in _statements("TaskExecutionRole"):  # the task role has no statement
        assert all("*" not in action for action in statement["Action"])
        if statement["Resource"] == ["*"]:
            assert statement["Action"] == ["ecr:GetAuthorizationToken"]


def test_image_pull_is_scoped_to_the_service_repository() -> None:
    (pull,) = [s for s in _statements("TaskExecutionRole") if s["Sid"] == "PullServiceImage"]
    assert {"Ref": "RepositoryName"} in pull["Resource"][0]["Fn::Join"][1]
    (logs,) = [s for s in _statements("TaskExecutionRole") if s["Sid"] == "WriteContainerLogs"]
    assert logs["Resource"] == [{"Fn::GetAtt": ["LogGroup", "Arn"]}]


def test_roles_trust_ecs_tasks_of_this_account_only() -> None:
    for role in ("TaskExecutionRole", "TaskRole"):
        trust = stack_template()["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Action"] == ["sts:AssumeRole"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
