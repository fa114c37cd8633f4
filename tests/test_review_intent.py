"""The review of the stock templates, as a person reads it: intended exposures are declared
(one line each, with the reason), anything else that widens access is RISKY, and no line
holds raw CloudFormation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import templates_support

from accepted import METADATA_KEY
from deployer import intrinsics, review, review_text
from deployer.changeset import ChangeSet
from templates.declared import public_access

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
ARN = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-x/1"


def change_set(template: dict[str, Any], action: str = "Add", only: set[str] | None = None):
    changes = [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": action,
                "LogicalResourceId": logical,
                "ResourceType": resource["Type"],
            },
        }
        for logical, resource in template["Resources"].items()
        if only is None or logical in only
    ]
    kind = "CREATE" if action == "Add" else "UPDATE"
    return ChangeSet(ARN, STACK_ID, "deploy-x", kind, {"StackName": "s"}, changes, False)


def first_create(env: str, key: str) -> review.Review:
    template = templates_support.stack_template(env, key)
    return review.build(
        change_set(template), "us-east-1", None, set(), None, template, "http://127.0.0.1:5050"
    )


# Every stack of every environment, placed public (local) and private (production, staging).
STOCK_STACKS = [
    ("local", "network"),
    ("local", "registry"),
    ("local", "environment"),
    ("local", "svc-web"),
    ("local", "svc-api"),
    ("production", "network"),
    ("production", "registry"),
    ("production", "static"),
    ("production", "environment"),
    ("production", "svc-web"),
    ("staging", "registry"),
    ("staging", "static"),
    ("staging", "environment"),
    ("staging", "svc-web"),
]


def both(env: str) -> dict[str, Any]:
    """The environment stack and the web service's as one template: what the load balancer
    and the service's tasks expose, reviewed together."""
    merged: dict[str, Any] = {}
    for key in ("environment", "svc-web"):
        for section, values in templates_support.stack_template(env, key).items():
            if isinstance(values, dict):
                merged.setdefault(section, {}).update(values)
            else:
                merged[section] = values
    return merged


@pytest.mark.parametrize(("env", "key"), STOCK_STACKS)
def test_a_first_create_of_the_stock_templates_has_no_risky_line(env: str, key: str) -> None:
    shown = first_create(env, key)
    text = review_text.render(shown)
    assert shown.risks == [], text
    assert "RISKY" not in text
    if key != "registry":  # the repository grants nothing; the others expose on purpose
        assert shown.declared, text


def test_each_intended_exposure_is_one_declared_line_with_its_reason() -> None:
    text = review_text.render(first_create_of(both("local")))
    declared = [line for line in text.splitlines() if line.startswith("  declared ")]
    for expected in (
        "LoadBalancerSecurityGroup (AWS::EC2::SecurityGroup): inbound tcp port 443 from "
        "0.0.0.0/0 (the whole internet) -- the public load balancer: HTTPS",
        "LoadBalancerSecurityGroup (AWS::EC2::SecurityGroup): inbound tcp port 80 from 0.0.0.0/0",
        "ServiceSecurityGroup (AWS::EC2::SecurityGroup): outbound tcp port 443 to 0.0.0.0/0",
        "TaskRole (AWS::IAM::Role): may be assumed by service ecs-tasks.amazonaws.com",
        "TaskExecutionRole (AWS::IAM::Role): may be assumed by service ecs-tasks.amazonaws.com",
        "AlertingKey (AWS::KMS::Key): allows service logs.${AWS::Region}.amazonaws.com: "
        "kms:Encrypt",
        "AlertingKey (AWS::KMS::Key): allows service cloudwatch.amazonaws.com: kms:Decrypt",
    ):
        assert sum(expected in line for line in declared) == 1, expected


def test_an_undeclared_ssh_rule_on_the_same_group_is_risky_with_direction_port_and_source() -> None:
    template = copy.deepcopy(both("local"))
    group = template["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
    group["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    )
    shown = first_create_of(template)
    lines = [risk.line() for risk in shown.risks]
    assert lines == [
        "[ingress] LoadBalancerSecurityGroup (AWS::EC2::SecurityGroup): inbound tcp port 22 "
        "from 0.0.0.0/0 (the whole internet)"
    ]
    text = review_text.render(shown)
    assert text.index("RISKY CHANGES") < text.index("Declared exposures") < text.index("Action")
    # the group's declared rules are still declared, not hidden by the new one
    assert any("port 443 from 0.0.0.0/0" in d.line() for d in shown.declared)


def first_create_of(template: dict[str, Any]) -> review.Review:
    return review.build(change_set(template), "us-east-1", None, set(), None, template)


def test_a_new_grant_to_a_declared_principal_with_more_actions_is_risky() -> None:
    template = copy.deepcopy(both("local"))
    resources = template["Resources"]
    policy = resources["AccessLogsDeliveryBucketPolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"][0]["Action"].append("s3:DeleteObject")
    (risk,) = first_create_of(template).risks
    assert risk.code == "resource-policy"
    assert "allows AWS arn:${AWS::Partition}:iam::" in risk.what
    assert "s3:PutObject, s3:DeleteObject" in risk.what


def test_a_modify_that_widens_a_declared_group_is_flagged_and_a_narrowing_is_not() -> None:
    deployed = both("local")
    widened = copy.deepcopy(deployed)
    rules = widened["Resources"]["ServiceSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    rules.append({"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"})
    narrowed = copy.deepcopy(deployed)
    narrowed["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"].pop()
    only = {"ServiceSecurityGroup", "LoadBalancerSecurityGroup"}
    for new, expected in ((widened, 1), (narrowed, 0)):
        shown = review.build(change_set(new, "Modify", only), "us-east-1", {}, set(), deployed, new)
        assert len(shown.risks) == expected, [r.line() for r in shown.risks]
    (risk,) = review.build(
        change_set(widened, "Modify", only), "us-east-1", {}, set(), deployed, widened
    ).risks
    assert risk.what == "outbound all protocols all ports to 0.0.0.0/0 (the whole internet)"


def test_no_review_line_holds_raw_cloudformation() -> None:
    keys = (("local", "environment"), ("production", "svc-web"), ("production", "static"))
    for env, key in keys:
        text = review_text.render(first_create(env, key))
        assert "Fn::" not in text
        assert '{"Ref"' not in text


def test_intrinsics_read_as_a_person_writes_them() -> None:
    joined = {
        "Fn::Join": [
            "",
            [
                {"Fn::GetAtt": ["AccessLogsBucket", "Arn"]},
                "/load-balancer/AWSLogs/",
                {"Ref": "AWS::AccountId"},
                "/*",
            ],
        ]
    }
    assert (
        intrinsics.render(joined)
        == "${AccessLogsBucket.Arn}/load-balancer/AWSLogs/${AWS::AccountId}/*"
    )
    assert intrinsics.render({"Ref": "ServiceSecurityGroup"}) == "!Ref ServiceSecurityGroup"
    assert intrinsics.render({"Fn::GetAtt": ["LogGroup", "Arn"]}) == "!GetAtt LogGroup.Arn"
    assert intrinsics.render({"Fn::Sub": "${AWS::StackName}-assets"}) == "${AWS::StackName}-assets"
    mapped = {"Fn::FindInMap": ["ElbAccount", {"Ref": "AWS::Region"}, "AccountId"]}
    assert intrinsics.render(mapped) == "!FindInMap [ElbAccount, !Ref AWS::Region, AccountId]"


def test_long_values_are_shortened_after_a_whole_item_never_mid_token() -> None:
    actions = [f"kms:Action{number:02d}" for number in range(40)]
    text = intrinsics.render(actions, limit=100)
    shown, _, rest = text.strip("[]").partition(", ... (")
    assert all(item in actions for item in shown.split(", "))  # each item whole
    assert rest == f"{40 - len(shown.split(', '))} more)"
    nested = {"Rules": [{"ExpirationInDays": 7, "Id": "expire", "Status": "Enabled"}]}
    assert (
        intrinsics.render(nested) == "{Rules: [{ExpirationInDays: 7, Id: expire, Status: Enabled}]}"
    )


def test_the_console_link_only_on_aws_and_the_emulator_review_names_no_console() -> None:
    template = both("local")
    on_moto = review.build(
        change_set(template), "us-east-1", None, set(), None, template, "http://127.0.0.1:5050"
    )
    on_aws = review.build(
        change_set(template),
        "us-east-1",
        None,
        set(),
        None,
        template,
        "https://cloudformation.us-east-1.amazonaws.com",
    )
    assert on_moto.console_url == "" and on_moto.endpoint == "http://127.0.0.1:5050"
    assert "console" not in review_text.render(on_moto)
    assert on_aws.console_url.startswith("https://us-east-1.console.aws.amazon.com/")
    assert "Review in the console: https://" in review_text.render(on_aws)
    document = json.loads(json.dumps(on_moto.to_dict(), default=str))
    assert {r["code"] for r in document["declared"]} >= {"ingress", "egress", "trust"}


def test_a_changed_rule_list_shows_the_rule_added_whole_not_a_cut_list() -> None:
    deployed = both("local")
    new = copy.deepcopy(deployed)
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    new["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"].append(ssh)
    shown = review.build(
        change_set(new, "Modify", {"LoadBalancerSecurityGroup"}),
        "us-east-1",
        {},
        set(),
        deployed,
        new,
    )
    text = review_text.render(shown)
    assert (
        "/Properties/SecurityGroupIngress: + {IpProtocol: tcp, FromPort: 22, ToPort: 22, "
        "CidrIp: 0.0.0.0/0}  (template values)" in text
    )
    assert "..." not in text.split("Action")[1]  # the table's values are whole


def test_a_bucket_without_its_public_access_block_is_risky_unless_declared() -> None:
    template = copy.deepcopy(both("local"))
    bucket = template["Resources"]["AccessLogsBucket"]
    del bucket["Properties"]["PublicAccessBlockConfiguration"]
    (risk,) = first_create_of(template).risks
    assert risk.code == "public-access" and risk.logical_id == "AccessLogsBucket"
    bucket["Metadata"][METADATA_KEY] = [public_access("a public website bucket")]
    shown = first_create_of(template)
    assert shown.risks == []
    assert any(d.declared == "a public website bucket" for d in shown.declared)
