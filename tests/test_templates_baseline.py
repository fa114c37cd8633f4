"""The security baseline of issue 11, read off the generated templates of production and
staging: TLS-only buckets, the CDN on the environment's own name with TLS 1.2, logs nobody can
erase, confused-deputy conditions on service principals, flow logs, HSTS, an explicit non-root
user, and each remaining accepted risk declared beside its resource with a reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import generate
from accepted import METADATA_KEY, describe, entries
from bench.dockerfile import last
from environments import load
from service import contract
from templates import build_stacks

ENVIRONMENTS = ("production", "staging")


def _stacks(env: str | Path) -> dict[str, dict[str, Any]]:
    return {s.key: s.template.to_dict() for s in build_stacks(load(env), "test")}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def _all(env: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (key, name): props
        for key, template in _stacks(env).items()
        for name, props in _resources(template, kind).items()
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_bucket_policy_denies_requests_without_tls(env: str) -> None:
    policies = _all(env, "AWS::S3::BucketPolicy")
    buckets = _all(env, "AWS::S3::Bucket")
    # Every bucket has a policy, and every policy refuses plain HTTP for bucket and objects.
    assert {(key, p["Bucket"]["Ref"]) for (key, _), p in policies.items()} == set(buckets)
    for policy in policies.values():
        (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "DenyWithoutTls"]
        assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        bucket = policy["Bucket"]["Ref"]
        assert deny["Resource"] == [
            {"Fn::GetAtt": [bucket, "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]},
        ]


@pytest.mark.parametrize(
    ("env", "domain"),
    [("production", "assets.app.example.com"), ("staging", "assets.staging.example.com")],
)
def test_cdn_serves_on_our_domain_with_tls_1_2_or_later(env: str, domain: str) -> None:
    static = _stacks(env)["static"]
    config = static["Resources"]["StaticAssetsDistribution"]["Properties"]["DistributionConfig"]
    assert config["Aliases"] == [domain]
    certificate = config["ViewerCertificate"]
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["SslSupportMethod"] == "sni-only"
    assert "CloudFrontDefaultCertificate" not in certificate
    assert certificate["AcmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    records = _resources(static, "AWS::Route53::RecordSet")
    assert {r["Type"] for r in records.values()} == {"A", "AAAA"}
    for record in records.values():
        assert record["Name"] == domain
        assert record["AliasTarget"] == {
            "DNSName": {"Fn::GetAtt": ["StaticAssetsDistribution", "DomainName"]},
            "HostedZoneId": "Z2FDTNDATAQYW2",  # CloudFront's, the same for every distribution
        }
    assert static["Outputs"]["AssetsBaseUrl"]["Value"] == f"https://{domain}"


def test_a_us_east_1_environment_creates_and_validates_the_cdn_certificate(tmp_path: Path) -> None:
    text = Path("environments/production.toml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("certificate_arn"))
    path = tmp_path / "east.toml"
    path.write_text(
        text.replace('region = "eu-west-1"', 'region = "us-east-1"').replace(
            line, "create_certificate = true"
        )
    )
    (static,) = [s for s in build_stacks(load(path), "t") if s.key == "static"]
    template = static.template.to_dict()
    (certificate,) = _resources(template, "AWS::CertificateManager::Certificate").values()
    assert certificate["DomainName"] == "assets.app.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"][0]["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert static.parameters_from_hosted_zone == ("HostedZoneId",)
    viewer = template["Resources"]["StaticAssetsDistribution"]["Properties"]["DistributionConfig"][
        "ViewerCertificate"
    ]
    assert viewer["AcmCertificateArn"] == {"Ref": "StaticAssetsCertificate"}


@pytest.mark.parametrize(("env", "mode"), [("production", "GOVERNANCE"), ("staging", "COMPLIANCE")])
def test_load_balancer_logs_are_under_object_lock(env: str, mode: str) -> None:
    logs = load(env).logs
    bucket = _stacks(env)["environment"]["Resources"]["AccessLogsBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": mode, "Days": logs.object_lock_days}},
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_one_may_delete_a_log_and_noncurrent_versions_outlast_the_lock(env: str) -> None:
    logs = load(env).logs
    for key in ("environment", "static"):
        resources = _stacks(env)[key]["Resources"]
        bucket = resources["AccessLogsBucket"]["Properties"]
        (rule,) = bucket["LifecycleConfiguration"]["Rules"]
        kept = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        assert kept >= logs.object_lock_days
        statements = resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ]
        (deny,) = [s for s in statements if s["Sid"] == "DenyErasingLogs"]
        assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
        assert set(deny["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
        assert "Condition" not in deny  # nobody: no role, no exception


def _service_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if "Service" in s.get("Principal", {})]


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key for operator in statement.get("Condition", {}).values() for key in operator}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_service_principals_of_the_key_policy_are_bound_to_this_account(env: str) -> None:
    (key,) = _resources(_stacks(env)["environment"], "AWS::KMS::Key").values()
    statements = _service_statements(key["KeyPolicy"])
    assert len(statements) == 2  # CloudWatch alarms, CloudWatch Logs
    for statement in statements:
        assert {"aws:SourceAccount", "aws:SourceArn"} <= _condition_keys(statement), statement
    (alarms,) = [s for s in statements if s["Principal"]["Service"] == "cloudwatch.amazonaws.com"]
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:*" in str(alarms["Condition"]["ArnLike"]["aws:SourceArn"])
    # The topic has no policy of its own: only the account may publish (SNS's default).
    assert not _resources(_stacks(env)["environment"], "AWS::SNS::TopicPolicy")


def test_flow_logs_record_the_whole_vpc_with_the_environments_retention() -> None:
    network = _stacks("production")["network"]
    (flow_log,) = _resources(network, "AWS::EC2::FlowLog").values()
    assert (flow_log["ResourceType"], flow_log["ResourceId"]) == ("VPC", {"Ref": "Vpc"})
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    assert flow_log["LogGroupName"] == {"Ref": "FlowLogGroup"}
    group = network["Resources"]["FlowLogGroup"]
    assert group["Properties"]["RetentionInDays"] == load("production").log_retention_days
    assert group["DeletionPolicy"] == "Retain"
    role = network["Resources"]["FlowLogRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert _condition_keys(trust) == {"aws:SourceAccount", "aws:SourceArn"}
    (policy,) = role["Policies"]
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert grant["Resource"] == [{"Fn::GetAtt": ["FlowLogGroup", "Arn"]}]  # that group only
    assert "network" not in _stacks("staging")  # a brought VPC's flow logs are its owner's


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_https_listener_sends_hsts(env: str) -> None:
    listener = _stacks(env)["environment"]["Resources"]["HttpsListener"]["Properties"]
    attributes = {a["Key"]: a["Value"] for a in listener["ListenerAttributes"]}
    hsts = attributes["routing.http.response.strict_transport_security.header_value"]
    max_age = re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
    assert max_age and int(max_age.group(1)) >= 31536000  # at least a year


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_task_runs_as_the_dockerfiles_non_root_user(env: str) -> None:
    task = _stacks(env)["svc-web"]["Resources"]["TaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    assert container["User"] == contract.USER == last("USER")
    uid, gid = contract.USER.split(":")
    assert int(uid) > 0 and int(gid) > 0


def _declared(env: str) -> dict[str, list[str]]:
    """What each resource declares it allows on purpose (accepted.METADATA_KEY), described."""
    return {
        name: [describe(entry) for entry in entries(resource)]
        for template in _stacks(env).values()
        for name, resource in template["Resources"].items()
        if entries(resource)
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_remaining_accepted_risk_is_declared_beside_its_resource(env: str) -> None:
    declared = _declared(env)
    assert {"inbound tcp 80 from 0.0.0.0/0", "inbound tcp 443 from 0.0.0.0/0"} <= set(
        declared["LoadBalancerSecurityGroup"]
    )
    assert "allows ecr:GetAuthorizationToken on *" in declared["TaskExecutionRole"]
    assert any("root" in risk for risk in declared["AlertingKey"])
    assert any("no server access logging" in risk for risk in declared["AccessLogsBucket"])
    assert any("no server access logging" in r for r in declared["AccessLogsDeliveryBucket"])
    assert {r.split(" ")[1] for r in declared["StaticAssetsDistribution"]} >= {"WAF", "CloudFront"}
    assert ("FlowLogGroup" in declared) == (env == "production")  # the network stack's
    for template in _stacks(env).values():
        for resource in template["Resources"].values():
            for entry in entries(resource):
                assert len(entry["Reason"]) > 20, entry


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_checkov_skip_comes_from_a_declaration_with_its_reason(env: str) -> None:
    skipped = 0
    for template in _stacks(env).values():
        for name, resource in template["Resources"].items():
            metadata = resource.get("Metadata", {})
            declared = {
                (check, entry["Reason"])
                for entry in entries(resource)
                for check in entry.get("Checkov", [])
            }
            skips = {(s["id"], s["comment"]) for s in metadata.get("checkov", {}).get("skip", [])}
            assert skips == declared, name
            skipped += len(skips)
    assert skipped >= 4  # the ALB's port 80, the log bucket, the distribution's two


def test_one_key_holds_every_declaration() -> None:
    """The exposures the review matches and the risks checkov skips live under one key."""
    for env in ENVIRONMENTS:
        for template in _stacks(env).values():
            for resource in template["Resources"].values():
                assert set(resource.get("Metadata", {})) <= {METADATA_KEY, "checkov"}


def test_the_readme_lists_every_accepted_risk_the_templates_declare() -> None:
    """The README's list is generated from the declarations (`make accepted-risks`)."""
    readme = generate.README.read_text()
    assert generate.readme_with_accepted_risks(readme) == readme, "run make accepted-risks"
    listed = readme[readme.index(generate.RISKS_BEGIN) : readme.index(generate.RISKS_END)]
    assert "`svc-web` `TaskExecutionRole`: allows ecr:GetAuthorizationToken on *" in listed
    assert "`static` `StaticAssetsDistribution`: No WAF web ACL" in listed
