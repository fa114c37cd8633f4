"""The failure paths a real deploy meets, as AWS documents them (issue 7).

moto finishes every operation at once and never fails a resource, so most of these states
are stood in for with botocore's Stubber on real clients (or, where a test needs hundreds of
polls, a small fake client on a fake clock); each test says what moto cannot produce.
Delays are recorded or advance a fake clock, never slept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import test_deploy_stubbed as stubbed
from test_deploy_stubbed import (
    CHANGE_SET,
    SERVICE_ARN,
    STACK,
    STACK_ID,
    T0,
    FakeAws,
    Recorder,
    event,
    stack,
    update_change_set,
)

import deploy
from deployer import changeset, operate
from deployer.errors import (
    ChangeSetFailed,
    DeployFailed,
    Interrupted,
    PreflightError,
    StoppedFollowing,
    TimedOut,
)
from deployer.follow import Follower
from deployer.manifest import StackSpec
from deployer.poll import Backoff

STACK_TYPE = "AWS::CloudFormation::Stack"
UNSTABLE = 'Resource handler returned message: "Service did not stabilize"'
FOLLOW = "make follow ENV=production STACK=service"
NO_SLEEP = Backoff(sleep=lambda _s: None)


def spec(tmp_path: Path) -> StackSpec:
    return StackSpec("service", STACK, tmp_path / "service.json")


def said(error: Exception) -> tuple[int, str]:
    lines: list[str] = []
    code = deploy.report_error(error, lines.append, {})
    return code, "\n".join(lines)


def failed_first_create() -> list[dict[str, Any]]:
    """A first create whose ECS service never stabilises, newest first."""
    return [
        event(9, STACK, "ROLLBACK_COMPLETE", STACK_TYPE),
        event(8, "Cluster", "DELETE_COMPLETE", "AWS::ECS::Cluster"),
        event(7, STACK, "ROLLBACK_IN_PROGRESS", STACK_TYPE, "The following resource(s) failed"),
        event(6, "Service", "CREATE_FAILED", "AWS::ECS::Service", UNSTABLE, SERVICE_ARN),
        event(2, "Service", "CREATE_IN_PROGRESS", "AWS::ECS::Service", physical=SERVICE_ARN),
        event(1, STACK, "CREATE_IN_PROGRESS", STACK_TYPE, "User Initiated"),
    ]


def after_now(*events: dict[str, Any]) -> list[dict[str, Any]]:
    """Events of an operation this process starts (the verbs and deletes take "now" as the
    operation's start): stamped a few seconds from now, in the given order."""
    now = datetime.now(UTC) + timedelta(seconds=5)
    return [
        {**found, "Timestamp": now + timedelta(seconds=found["Timestamp"].second)}
        for found in events
    ]


def create_change_set() -> changeset.ChangeSet:
    description = {"CreationTime": T0, "StackName": STACK, "Status": "CREATE_COMPLETE"}
    return changeset.ChangeSet(CHANGE_SET, STACK_ID, "deploy-x", "CREATE", description, [], False)


# ---- 2. a failure report never loses its root cause ------------------------------------------


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("ClusterNotFoundException", "the rollback already deleted it"),
        ("AccessDeniedException", "the deploy role may not read it"),
    ],
)
def test_stubbed_a_failing_diagnostic_call_keeps_the_root_cause_and_final_status(
    tmp_path: Path, code: str, why: str
) -> None:
    """Stands in for a first create that rolls back (moto never fails a resource): the
    rollback deleted the cluster, or the deploy role may not call ECS; the report still
    leads with the root cause, says why ECS cannot tell, and ends with the final status."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    cf.add_response("describe_stack_events", {"StackEvents": failed_first_create()})
    cf.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    aws.stub("ecs").add_client_error("describe_services", code, "Cluster not found.", 400)

    with pytest.raises(DeployFailed) as failed:
        stubbed.deployer(aws, recorder, tmp_path)._execute(
            spec(tmp_path), create_change_set(), existed=False
        )

    exit_code, text = said(failed.value)
    assert exit_code == 1
    assert text.startswith(f"\nDEPLOY FAILED: {STACK}: ROLLBACK_COMPLETE")
    report = failed.value.report
    assert report[0].startswith("Root cause: Service (AWS::ECS::Service) CREATE_FAILED")
    assert why in report[1] and code in report[1]
    assert f"Stack {STACK} is now ROLLBACK_COMPLETE." in report
    assert "the next deploy asks to delete the stack" in text


def test_stubbed_ecs_is_asked_when_the_failure_arrives_before_the_rollback_deletes_it(
    tmp_path: Path,
) -> None:
    """Stands in for a rollback in progress (moto has none): ECS's events are read as soon
    as the service's failure shows, while its cluster still exists; ECS is asked once."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    events = failed_first_create()
    cf.add_response("describe_stack_events", {"StackEvents": events[3:]})  # up to the failure
    cf.add_response("describe_stack_events", {"StackEvents": events})
    cf.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    ecs = aws.stub("ecs")
    message = "(service app-service) failed to launch a task: CannotPullContainerError"
    ecs.add_response(
        "describe_services", {"services": [{"events": [{"id": "1", "message": message}]}]}
    )
    ecs.add_response("list_tasks", {"taskArns": []})  # and no second answer: asked once

    with pytest.raises(DeployFailed) as failed:
        stubbed.deployer(aws, recorder, tmp_path)._execute(
            spec(tmp_path), create_change_set(), existed=False
        )
    assert f"  event: {message}" in failed.value.report
    ecs.assert_no_pending_responses()


# ---- 4. a stale read after execute is waited out ----------------------------------------------


def test_stubbed_review_in_progress_right_after_execute_is_a_stale_read(tmp_path: Path) -> None:
    """Stands in for CloudFormation's eventual consistency (moto executes synchronously):
    DescribeStacks right after ExecuteChangeSet still says REVIEW_IN_PROGRESS."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    cf.add_response("describe_stack_events", {"StackEvents": []})
    cf.add_response("describe_stacks", stack("REVIEW_IN_PROGRESS"))
    done = [
        event(3, STACK, "CREATE_COMPLETE", STACK_TYPE),
        event(1, STACK, "CREATE_IN_PROGRESS", STACK_TYPE, "User Initiated"),
    ]
    cf.add_response("describe_stack_events", {"StackEvents": done})
    cf.add_response("describe_stacks", stack("CREATE_COMPLETE"))

    final = stubbed.deployer(aws, recorder, tmp_path)._execute(
        spec(tmp_path), create_change_set(), existed=False
    )
    assert final["StackStatus"] == "CREATE_COMPLETE"
    assert f"{STACK}: CREATE_COMPLETE" in recorder.text
    cf.assert_no_pending_responses()


def test_stubbed_the_previous_update_complete_is_not_taken_for_this_ones(tmp_path: Path) -> None:
    """Stands in for a stale read on an update (moto executes synchronously): the stack
    still shows the last update's UPDATE_COMPLETE; this update then fails and rolls back,
    and that is what is reported, not an early success."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    cf.add_response("describe_stack_events", {"StackEvents": []})
    before = stack("UPDATE_COMPLETE")
    before["Stacks"][0]["LastUpdatedTime"] = T0 - timedelta(hours=1)
    cf.add_response("describe_stacks", before)
    rolled_back = [
        event(6, STACK, "UPDATE_ROLLBACK_COMPLETE", STACK_TYPE),
        event(3, "Service", "UPDATE_FAILED", "AWS::ECS::Service", UNSTABLE),
        event(1, STACK, "UPDATE_IN_PROGRESS", STACK_TYPE, "User Initiated"),
    ]
    cf.add_response("describe_stack_events", {"StackEvents": rolled_back})
    cf.add_response("describe_stacks", stack("UPDATE_COMPLETE"))  # still stale: wait on
    cf.add_response("describe_stack_events", {"StackEvents": []})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))
    cf.add_response("list_change_sets", {"Summaries": []})

    with pytest.raises(DeployFailed, match="UPDATE_ROLLBACK_COMPLETE"):
        stubbed.deployer(aws, recorder, tmp_path)._execute(spec(tmp_path), update_change_set())
    cf.assert_no_pending_responses()


# ---- 5. credentials that expire while following ------------------------------------------------


def test_stubbed_expired_credentials_while_following_say_the_operation_goes_on(
    tmp_path: Path,
) -> None:
    """Stands in for session credentials expiring mid-rollout (moto accepts any)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    busy = [event(1, STACK, "UPDATE_IN_PROGRESS", STACK_TYPE)]
    cf.add_response("describe_stack_events", {"StackEvents": busy})
    expired = "The security token included in the request is expired"
    cf.add_client_error("describe_stack_events", "ExpiredToken", expired, 403)

    with pytest.raises(StoppedFollowing) as stopped:
        stubbed.deployer(aws, recorder, tmp_path)._execute(spec(tmp_path), update_change_set())

    code, text = said(stopped.value)
    assert code == 1
    assert "AWS stopped accepting the credentials while following" in text
    assert "ExpiredToken" in text and "Refresh them" in text
    assert "CloudFormation carries on with the update" in text
    assert FOLLOW in text
    assert f"aws cloudformation describe-stack-events --stack-name {STACK}" in text


# ---- 6. failed states, each with its next step ---------------------------------------------


def test_stubbed_update_rollback_failed_stops_before_any_change_set_with_how_to_continue(
    tmp_path: Path,
) -> None:
    """Stands in for UPDATE_ROLLBACK_FAILED, which moto never reaches. No change set is
    created (the stub has no CreateChangeSet answer): CloudFormation would refuse it."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    stuck = stack("UPDATE_ROLLBACK_FAILED")
    stuck["Stacks"][0]["StackStatusReason"] = "The following resource(s) failed to update: [Db]"
    cf.add_response("describe_stacks", stuck)

    with pytest.raises(PreflightError) as refused:
        stubbed.deployer(aws, recorder, tmp_path).deploy_stack(spec(tmp_path))

    text = str(refused.value)
    assert "is UPDATE_ROLLBACK_FAILED" in text and "failed to update: [Db]" in text
    assert 'make continue-rollback ENV=production STACK=service [SKIP="LogicalId ..."]' in text
    assert f"aws cloudformation continue-update-rollback --stack-name {STACK}" in text
    cf.assert_no_pending_responses()


def test_stubbed_a_deploy_that_ends_update_rollback_failed_says_how_to_continue(
    tmp_path: Path,
) -> None:
    """Stands in for a rollback that fails too (moto has no rollback)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("execute_change_set", {})
    events = [
        event(5, STACK, "UPDATE_ROLLBACK_FAILED", STACK_TYPE),
        event(4, "Db", "UPDATE_FAILED", "AWS::RDS::DBInstance", "Instance is busy"),
        event(3, "Service", "UPDATE_FAILED", "AWS::ECS::Service", UNSTABLE),
        event(1, STACK, "UPDATE_IN_PROGRESS", STACK_TYPE),
    ]
    cf.add_response("describe_stack_events", {"StackEvents": events})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"))
    cf.add_response("list_change_sets", {"Summaries": []})

    with pytest.raises(DeployFailed) as failed:
        stubbed.deployer(aws, recorder, tmp_path)._execute(spec(tmp_path), update_change_set())
    text = "\n".join(failed.value.report)
    assert text.startswith("Root cause: Service (AWS::ECS::Service) UPDATE_FAILED")
    assert "The rollback failed too" in text
    assert "make continue-rollback ENV=production STACK=service" in text


def test_stubbed_rollback_failed_is_deleted_like_rollback_complete(tmp_path: Path) -> None:
    """Stands in for ROLLBACK_FAILED (moto has no rollback): a first create whose rollback
    failed can only be deleted, as after ROLLBACK_COMPLETE."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("delete_stack", {}, {"StackName": STACK_ID})
    gone = [event(9, STACK, "DELETE_COMPLETE", STACK_TYPE)]
    cf.add_response("describe_stack_events", {"StackEvents": gone})
    cf.add_client_error("describe_stacks", "ValidationError", f"Stack {STACK_ID} does not exist")

    found, note = stubbed.deployer(aws, recorder, tmp_path)._recreatable(
        spec(tmp_path), stack("ROLLBACK_FAILED")["Stacks"][0]
    )
    assert (found, note) == (None, "")
    assert "is ROLLBACK_FAILED: its first create failed" in recorder.text
    cf.assert_no_pending_responses()


def test_stubbed_a_delete_that_fails_stops_the_deploy_naming_what_would_not_go(
    tmp_path: Path,
) -> None:
    """Stands in for DELETE_FAILED (moto deletes everything): no CREATE change set follows
    (the stub has no CreateChangeSet answer), and the report names the resource and reason."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    cf.add_response("delete_stack", {}, {"StackName": STACK_ID})
    not_empty = "The bucket you tried to delete is not empty"
    events = after_now(
        event(9, STACK, "DELETE_FAILED", STACK_TYPE, "The following resource(s) failed"),
        event(8, "Bucket", "DELETE_FAILED", "AWS::S3::Bucket", not_empty),
        event(7, STACK, "DELETE_IN_PROGRESS", STACK_TYPE),
    )
    cf.add_response("describe_stack_events", {"StackEvents": events})
    cf.add_response("describe_stacks", stack("DELETE_FAILED"))

    with pytest.raises(DeployFailed) as failed:
        stubbed.deployer(aws, recorder, tmp_path).deploy_stack(spec(tmp_path))
    text = "\n".join(failed.value.report)
    assert "the delete ended DELETE_FAILED; nothing was created" in str(failed.value)
    assert f"Could not delete Bucket: {not_empty}" in text
    assert f"--stack-name {STACK} --retain-resources Bucket" in text
    cf.assert_no_pending_responses()


def test_stubbed_continue_rollback_skips_the_named_resources_and_follows_to_the_end(
    tmp_path: Path,
) -> None:
    """Stands in for UPDATE_ROLLBACK_FAILED (moto never reaches it)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"))
    cf.add_response(
        "continue_update_rollback", {}, {"StackName": STACK_ID, "ResourcesToSkip": ["Db"]}
    )
    cf.add_response("describe_stack_events", {"StackEvents": []})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"))  # stale: wait on
    done = after_now(
        event(2, STACK, "UPDATE_ROLLBACK_COMPLETE", STACK_TYPE),
        event(1, STACK, "UPDATE_ROLLBACK_IN_PROGRESS", STACK_TYPE),
    )
    cf.add_response("describe_stack_events", {"StackEvents": done})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))

    final = operate.continue_rollback(
        stubbed.deployer(aws, recorder, tmp_path), spec(tmp_path), ["Db"]
    )
    assert final["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "continuing the rollback of app-service, skipping Db" in recorder.text
    cf.assert_no_pending_responses()


def test_stubbed_cancel_cancels_an_update_and_follows_its_rollback(tmp_path: Path) -> None:
    """Stands in for an update still running (moto finishes at once)."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))
    cf.add_response("cancel_update_stack", {}, {"StackName": STACK_ID})
    done = after_now(event(2, STACK, "UPDATE_ROLLBACK_COMPLETE", STACK_TYPE))
    cf.add_response("describe_stack_events", {"StackEvents": done})
    cf.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))

    def never(_question: str) -> bool:
        raise AssertionError("an update's cancel is not asked")

    final = operate.cancel(stubbed.deployer(aws, recorder, tmp_path), spec(tmp_path), never)
    assert final["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "back to its last good state" in recorder.text
    cf.assert_no_pending_responses()


def test_stubbed_a_stack_busy_with_someone_elses_update_is_not_raced(tmp_path: Path) -> None:
    """Stands in for another deploy starting between our read and our execute (moto runs one
    request at a time): ExecuteChangeSet is refused, and the report says how to follow it."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    busy = f"Stack:{STACK_ID} is in UPDATE_IN_PROGRESS state and can not be updated."
    cf.add_client_error("execute_change_set", "ValidationError", busy, 400)
    cf.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"))

    with pytest.raises(DeployFailed) as failed:
        stubbed.deployer(aws, recorder, tmp_path)._execute(spec(tmp_path), update_change_set())
    text = "\n".join(failed.value.report)
    assert "busy with another operation (another deploy?)" in text
    assert FOLLOW in text
    assert f"Stack {STACK} is now UPDATE_IN_PROGRESS." in text


# ---- 7. every wait has a deadline ----------------------------------------------------------


class Clock:
    """A fake clock that the backoff's sleep advances."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class EndlessUpdate:
    """A CloudFormation client whose stack never leaves UPDATE_IN_PROGRESS (a stand-in:
    hundreds of polls are more than a Stubber queue should hold); counts calls by minute."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    def describe_stack_events(self, **_request: Any) -> dict[str, Any]:
        self.calls.append(self.clock.now)
        return {"StackEvents": [event(1, STACK, "UPDATE_IN_PROGRESS", STACK_TYPE)]}

    def describe_stacks(self, **_request: Any) -> dict[str, Any]:
        self.calls.append(self.clock.now)
        return stack("UPDATE_IN_PROGRESS")

    def execute_change_set(self, **_request: Any) -> None:
        pass


def test_following_stops_at_its_deadline_saying_what_is_still_running(tmp_path: Path) -> None:
    """Stands in for an ECS rollout that outlasts the deadline (moto finishes at once)."""
    clock, aws, recorder = Clock(), FakeAws(), Recorder()
    endless = EndlessUpdate(clock)
    aws.stub("cloudformation")
    aws.clients["cloudformation"] = endless
    backoff = Backoff(sleep=clock.sleep, clock=clock)
    late = stubbed.deployer(aws, recorder, tmp_path, backoff=backoff, follow_timeout=600.0)

    with pytest.raises(StoppedFollowing) as stopped:
        late._execute(spec(tmp_path), update_change_set())

    code, text = said(stopped.value)
    assert code == 1
    assert f"{STACK} is still UPDATE_IN_PROGRESS after 10 min of following" in text
    assert FOLLOW in text and "make cancel ENV=production STACK=service" in text
    assert 600 <= clock.now < 610
    # the API budget: at most 30 CloudFormation calls in any minute of following
    busiest = max(sum(1 for t in endless.calls if start <= t < start + 60) for start in range(540))
    assert busiest <= 30, busiest


def test_waiting_for_a_change_set_stops_at_its_deadline() -> None:
    """Stands in for a change set CloudFormation is slow to compute (moto is instant)."""
    clock = Clock()

    class Pending:
        def describe_change_set(self, **_request: Any) -> dict[str, Any]:
            return {"ChangeSetName": "deploy-x", "Status": "CREATE_IN_PROGRESS"}

    backoff = Backoff(sleep=clock.sleep, clock=clock)
    with pytest.raises(TimedOut, match="deploy-x is still CREATE_IN_PROGRESS after 5 min"):
        changeset.wait_for_change_set(Pending(), CHANGE_SET, backoff, backoff.deadline(300))
    assert 300 <= clock.now < 305


# ---- 9. Ctrl-C at the prompt leaves nothing behind -------------------------------------------


def test_stubbed_ctrl_c_at_the_first_prompt_deletes_the_change_set_and_its_empty_stack(
    tmp_path: Path,
) -> None:
    """Against AWS's answers: a CREATE change set made the stack (REVIEW_IN_PROGRESS); Ctrl-C
    at "Execute?" deletes both, so the next deploy starts clean. Exit 130."""
    aws, recorder = FakeAws(), Recorder()
    cf = aws.stub("cloudformation")
    cf.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET})
    cf.add_response("delete_stack", {}, {"StackName": STACK_ID})

    def ctrl_c(_question: str) -> bool:
        raise KeyboardInterrupt

    prompt = stubbed.deployer(aws, recorder, tmp_path, yes=False, confirm=ctrl_c)
    with pytest.raises(Interrupted) as stopped:
        prompt._confirm_or_discard(spec(tmp_path), None, create_change_set())
    code, text = said(stopped.value)
    assert code == 130
    assert "interrupted at the prompt: change set deploy-x deleted" in text
    cf.assert_no_pending_responses()


def test_the_follower_is_not_fooled_by_an_event_page_of_an_earlier_operation() -> None:
    """The events before `since` are an earlier deploy's: they neither print nor end it."""
    clock = Clock()

    class Done:
        def describe_stack_events(self, **_request: Any) -> dict[str, Any]:
            return {"StackEvents": [event(-9, STACK, "UPDATE_COMPLETE", STACK_TYPE)]}

        def describe_stacks(self, **_request: Any) -> dict[str, Any]:
            return stack("UPDATE_COMPLETE")  # no LastUpdatedTime since: not this update

    recorder = Recorder()
    follower = Follower(
        Done(), STACK_ID, T0, recorder.say, Backoff(sleep=clock.sleep, clock=clock), "UPDATE"
    )
    deadline = follower.backoff.deadline(30)
    with pytest.raises(Exception, match="UPDATE_COMPLETE"):
        follower.until_settled(deadline)
    assert recorder.lines == []


# ---- 8. details AWS hides -------------------------------------------------------------------

EARLY = (
    "The following hook(s)/validation failed: [AWS::EarlyValidation::ResourceExistenceCheck]. "
    "To troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure "
    "information."
)


def described(status: str, changes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "ChangeSetId": CHANGE_SET,
        "ChangeSetName": "deploy-x",
        "StackId": STACK_ID,
        "StackName": STACK,
        "Status": status,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Changes": changes,
        **extra,
    }


def test_stubbed_an_early_validation_failure_shows_what_describe_events_says() -> None:
    """Stands in for CloudFormation's Early Validation (moto has none): the change set's
    reason only names the check; DescribeEvents says which resource, where, and why."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_change_set", described("FAILED", [], StatusReason=EARLY))
    cf.add_response(
        "describe_events",
        {
            "OperationEvents": [
                {
                    "EventType": "VALIDATION_ERROR",
                    "LogicalResourceId": "AccessLogsBucket",
                    "ResourceType": "AWS::S3::Bucket",
                    "ValidationName": "NAME_CONFLICT_VALIDATION",
                    "ValidationStatus": "FAILED",
                    "ValidationStatusReason": "Resource with name app-logs already exists",
                    "ValidationPath": "/Resources/AccessLogsBucket/Properties/BucketName",
                }
            ]
        },
        {"ChangeSetName": CHANGE_SET, "Filters": {"FailedEvents": True}},
    )

    with pytest.raises(ChangeSetFailed) as failed:
        changeset.settle(aws.cloudformation, CHANGE_SET, STACK_ID, "deploy-x", "UPDATE", NO_SLEEP)
    assert failed.value.details == [
        "AccessLogsBucket AWS::S3::Bucket: NAME_CONFLICT_VALIDATION FAILED: Resource with name "
        "app-logs already exists (at /Resources/AccessLogsBucket/Properties/BucketName)"
    ]
    assert "AWS::EarlyValidation::ResourceExistenceCheck" in str(failed.value)
    cf.assert_no_pending_responses()


def test_stubbed_describe_events_denied_still_reports_the_change_set_failure() -> None:
    """Stands in for a deploy role without cloudformation:DescribeEvents."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_change_set", described("FAILED", [], StatusReason=EARLY))
    cf.add_client_error("describe_events", "AccessDenied", "not authorized", 403)
    with pytest.raises(ChangeSetFailed) as failed:
        changeset.settle(aws.cloudformation, CHANGE_SET, STACK_ID, "deploy-x", "UPDATE", NO_SLEEP)
    assert "ResourceExistenceCheck" in str(failed.value)
    assert "DescribeEvents could not be read for the details" in failed.value.details[0]


def test_stubbed_a_change_left_out_with_property_values_is_still_reviewed() -> None:
    """Stands in for AWS dropping a resource change from the IncludePropertyValues answer (a
    JSON-typed property it cannot validate, aws/aws-cdk-cli#1780; moto ignores the flag): the
    change is still listed, and the review says its values are missing."""
    service = stubbed.resource_change(
        "Modify", "Service", "AWS::ECS::Service", "False", {"DesiredCount": 1}, {"DesiredCount": 2}
    )
    plain = [
        stubbed.resource_change("Modify", "Service", "AWS::ECS::Service", "False"),
        stubbed.resource_change("Modify", "DataSource", "AWS::QBusiness::DataSource", "False"),
    ]
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    cf.add_response("describe_change_set", described("CREATE_COMPLETE", plain))
    cf.add_response("describe_change_set", described("CREATE_COMPLETE", [service]))

    found = changeset.settle(
        aws.cloudformation, CHANGE_SET, STACK_ID, "deploy-x", "UPDATE", NO_SLEEP
    )
    assert [c["ResourceChange"]["LogicalResourceId"] for c in found.changes] == [
        "Service",
        "DataSource",
    ]
    assert found.values_missing == ["DataSource"]
    text = stubbed.review_text.render(stubbed.review.build(found, "us-east-1", None, set()))
    assert "DesiredCount: 1 -> 2" in text
    assert "AWS gave no property values for DataSource" in text
    cf.assert_no_pending_responses()


def test_stubbed_throttling_past_botocores_retries_does_not_end_the_change_set_wait() -> None:
    """Stands in for CloudFormation's "Rate exceeded" (moto never throttles): the change-set
    poll is a read, so it backs off and carries on, as following a stack does."""
    aws = FakeAws()
    cf = aws.stub("cloudformation")
    for _ in range(3):
        cf.add_client_error("describe_change_set", "Throttling", "Rate exceeded", 400)
    cf.add_response("describe_change_set", described("CREATE_COMPLETE", []))
    page = changeset.wait_for_change_set(aws.cloudformation, CHANGE_SET, NO_SLEEP)
    assert page["Status"] == "CREATE_COMPLETE"
    cf.assert_no_pending_responses()
