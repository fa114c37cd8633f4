"""The rollout watch: failed tasks with their stopped reasons, and the look for a service the
stack has not created yet. Stubbed ECS answers: moto's services never have failed tasks, and
the service's lookup is counted, not timed."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.stub import Stubber

from deployer import rollout

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/app-cluster/app-service"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/app-cluster/0123abcd"


def ecs_client() -> Any:
    return botocore.session.get_session().create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


def services(failed: int) -> dict[str, Any]:
    deployment = {
        "id": "ecs-svc/111",
        "status": "PRIMARY",
        "rolloutState": "IN_PROGRESS",
        "runningCount": 0,
        "pendingCount": 1,
        "desiredCount": 2,
        "failedTasks": failed,
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/app:7",
    }
    old = {**deployment, "id": "ecs-svc/000", "status": "ACTIVE", "runningCount": 2}
    return {"services": [{"serviceArn": SERVICE, "deployments": [deployment, old]}]}


def test_a_failed_task_is_printed_once_with_why_it_stopped() -> None:
    ecs = ecs_client()
    said: list[str] = []
    watch = rollout.Watch(lambda: ecs, lambda: SERVICE, said.append, None)
    described = {"cluster": "app-cluster", "services": [SERVICE]}
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", services(0), described)
        stub.add_response("describe_services", services(1), described)
        stub.add_response(
            "list_tasks",
            {"taskArns": [TASK]},
            {"cluster": "app-cluster", "serviceName": "app-service", "desiredStatus": "STOPPED"},
        )
        stub.add_response(
            "describe_tasks",
            {
                "tasks": [
                    {
                        "taskArn": TASK,
                        "startedBy": "ecs-svc/111",
                        "stoppedReason": "Task failed ELB health checks",
                        "containers": [{"name": "web", "exitCode": 137}],
                    }
                ]
            },
            {"cluster": "app-cluster", "tasks": [TASK]},
        )
        stub.add_response("describe_services", services(1), described)
        watch.poll()
        watch.poll()
        watch.poll()  # the same failure: not printed again
        stub.assert_no_pending_responses()
    line = "  rollout IN_PROGRESS: 0/2 running, 1 pending, {} failed, 2 old still running ({})"
    assert said == [
        line.format(0, "ecs-svc/111"),
        "  stopped task 0123abcd: Task failed ELB health checks (web: exit 137)",
        line.format(1, "ecs-svc/111"),
    ]


def test_a_service_not_created_yet_is_looked_for_every_few_polls() -> None:
    looks: list[int] = []
    watch = rollout.Watch(lambda: None, lambda: looks.append(1), print, None)
    for _ in range(2 * rollout.FIND_EVERY + 1):
        watch.poll()
    assert len(looks) == 3  # polls 1, 6 and 11
