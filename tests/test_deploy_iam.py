"""Every AWS call the deployer makes is allowed to the ci stack's roles (issue 16).

A whole local deploy runs in this process against moto over HTTP, its calls recorded with
botocore's `before-call` event (registered on the deployer's session's event system); each
call is then read as IAM reads it (its action and the resource ARN it acts on, from its
parameters, as AWS's Service Authorization Reference names them) and evaluated against the
ci stack's roles as generated for the same environment (tests/iam_policy.py): the deploy's
calls against the deploy role, a plan's (`deploy.py --no-execute`) against the plan role. moto
enforces no IAM at all: this is where a missing grant shows before AWS says AccessDenied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from iam_policy import Principal, arns, principal, resolver

import deploy
import generate
import local_aws
from deployer.session import Aws
from environments import CiConfig, load
from manifest import Manifest
from templates import build_ci

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account; local's region
PREFIX = "scalable-app-local"
CFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/{PREFIX}-cloudformation"
IAM_PREFIX = {"monitoring": "cloudwatch"}  # signing names that are not the IAM prefix
# S3 operations that IAM authorizes under another action's name (AWS's S3 reference)
S3_AS = {
    "HeadBucket": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadObject": "GetObject",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
}
NO_PERMISSION = {"sts:GetCallerIdentity"}  # "no permissions are required" (STS reference)


@dataclass
class Call:
    service: str  # the signing name
    operation: str
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)  # what AWS answered


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """The calls of every botocore session the deployer opens, in order."""
    calls: list[Call] = []

    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = dict(params)

    def record(model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        context["recorded_call"] = Call(service, model.name, context.get("recorded_params", {}))
        calls.append(context["recorded_call"])

    def answered(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "recorded_call" in context:
            context["recorded_call"].response = parsed

    real = botocore.session.get_session

    def session(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        made.register("before-parameter-build", keep_params)
        made.register("before-call", record)
        made.register("after-call", answered)
        return made

    monkeypatch.setattr(botocore.session, "get_session", session)
    yield calls


def _stack(name: str) -> str:
    name = name.split("/")[1] if name.startswith("arn:") else name
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f1e2d3c"


def requests_of(call: Call, change_sets: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, condition context) of each authorization the call needs."""
    prefix = IAM_PREFIX.get(call.service, call.service)
    p = call.params
    operation = S3_AS.get(call.operation, call.operation) if prefix == "s3" else call.operation
    action = f"{prefix}:{operation}"
    context: dict[str, str] = {}
    if prefix == "cloudformation":
        if "RoleARN" in p:
            context["cloudformation:RoleArn"] = p["RoleARN"]
        if "StackName" in p:
            resource = _stack(p["StackName"])
        elif call.operation == "DescribeEvents":
            resource = p["ChangeSetName"]
        elif call.operation == "ListStacks":  # names no stack: IAM takes "*" only
            resource = "*"
        else:  # a change set named by its ARN: IAM authorizes it on its stack
            resource = _stack(change_sets[p["ChangeSetName"]])
        found = [(action, resource, context)]
        if "RoleARN" in p:  # CloudFormation checks that the caller may pass the role
            passed = {"iam:PassedToService": "cloudformation.amazonaws.com"}
            found.append(("iam:PassRole", p["RoleARN"], passed))
        return found
    if prefix == "s3":
        resource = f"arn:aws:s3:::{p['Bucket']}" + (f"/{p['Key']}" if "Key" in p else "")
    elif prefix == "ssm":
        resource = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{p['Name']}"
    elif prefix == "ecr" and "repositoryName" in p:
        resource = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{p['repositoryName']}"
    elif prefix == "ecr" and "repositoryNames" in p:
        (name,) = p["repositoryNames"]
        resource = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"
    elif prefix == "acm" and "CertificateArn" in p:
        resource = p["CertificateArn"]
    elif prefix == "sns":
        resource = p["TopicArn"]
    elif prefix == "cloudwatch" and "AlarmNames" in p:
        return [
            (action, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}", {})
            for n in p["AlarmNames"]
        ]
    elif prefix == "ecs":
        cluster = p["cluster"].rsplit("/", 1)[-1]
        if call.operation == "DescribeServices":
            return [(action, _ecs("service", cluster, s), {}) for s in p["services"]]
        if call.operation == "DescribeTasks":
            return [(action, _ecs("task", cluster, t), {}) for t in p["tasks"]]
        resource = _ecs("container-instance", cluster, "*")  # ListTasks
    else:
        resource = "*"  # the rest name no resource: the test then checks IAM takes none
    return [(action, resource, context)]


def _ecs(kind: str, cluster: str, name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{kind}/{cluster}/{name.rsplit('/', 1)[-1]}"


def ci_roles() -> tuple[Principal, Principal]:
    """The deploy and plan roles the ci stack would give `local` with a [ci] table."""
    env = local_with_ci()
    stack = build_ci(env, generate.build(env, "t"))
    assert stack is not None
    template = stack.template.to_dict()
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
    resolve = resolver(pseudo, arns(template, f"{PREFIX}-ci", pseudo))
    return principal(template, "DeployRole", resolve), principal(template, "PlanRole", resolve)


def local_with_ci() -> Any:
    ci = CiConfig("example-org/scalable-app", ACCOUNT, pull_request_plans=True)
    return replace(load("local"), ci=ci)


def denied(calls: list[Call], role: Principal) -> list[str]:
    from templates.iam_reference import resource_formats

    change_sets: dict[str, str] = {}
    refused = []
    for call in calls:
        action_name = f"{IAM_PREFIX.get(call.service, call.service)}:{call.operation}"
        if action_name in NO_PERMISSION:
            continue
        for action, resource, context in requests_of(call, change_sets):
            if resource == "*" and resource_formats(action):
                refused.append(f"{action}: the test does not know the resource it names")
            elif not role.allowed(
                action, resource, **{k.replace(":", "__"): v for k, v in context.items()}
            ):
                refused.append(f"{action} on {resource} {context or ''}".strip())
        if call.operation == "CreateChangeSet" and "Id" in call.response:
            change_sets[call.response["Id"]] = call.params["StackName"]
    return sorted(set(refused))


def write_build(tmp_path: Path) -> Path:
    env = local_with_ci()
    out = tmp_path / "local"
    generate.write(out, generate.generate(env, "t1"))
    return out


def test_every_call_of_a_local_deploy_is_allowed_to_the_deploy_role_and_a_plans_to_the_plan_role(
    aws: dict[str, str], recorded: list[Call], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = write_build(tmp_path)
    manifest = Manifest.from_dict(
        build / "manifest.json", json.loads((build / "manifest.json").read_text())
    )
    local_aws.bootstrap(manifest, Aws(REGION))
    recorded.clear()  # the account's setup is a person's, not the deploy's
    common = ["--env", "local", "--build-dir", str(build), "--yes"]
    assert deploy.main([*common, "--stack", "network", "--stack", "registry"]) == 0
    local_aws.push_stand_in(manifest, Aws(REGION).client("ecr"))  # make push: the deploy role
    assert deploy.main(common) == 0
    deploy_calls = list(recorded)
    recorded.clear()
    assert deploy.main([*common, "--no-execute"]) in (0, 2)
    plan_calls = list(recorded)
    deploy_role, plan_role = ci_roles()
    operations = {c.operation for c in deploy_calls}
    assert {"CreateChangeSet", "ExecuteChangeSet", "PutParameter"} <= operations
    assert denied(deploy_calls, deploy_role) == []
    assert "CreateChangeSet" in {c.operation for c in plan_calls}
    assert denied(plan_calls, plan_role) == []
