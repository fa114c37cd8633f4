"""Who reaches which port, the listeners, the certificate, the target group and DNS."""

from __future__ import annotations

from typing import Any

from templates_support import properties, stack_template

from environments import load
from service import contract
from templates import build_stacks


def _rules(rules: list[dict[str, Any]]) -> set[tuple[int, int, str]]:
    return {
        (r["FromPort"], r["ToPort"], r.get("CidrIp") or r["SourceSecurityGroupId"]["Ref"])
        for r in rules
    }


def _ingress_of(group: str) -> set[tuple[int, int, str]]:
    """Inline rules and separate ingress resources alike."""
    resources = stack_template()["Resources"]
    rules = list(resources[group]["Properties"].get("SecurityGroupIngress", []))
    rules += [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Ref": group}
    ]
    return _rules(rules)


def test_internet_reaches_nothing_but_the_load_balancer() -> None:
    groups = [
        k
        for k, v in stack_template()["Resources"].items()
        if v["Type"] == "AWS::EC2::SecurityGroup"
    ]
    assert sorted(groups) == ["LoadBalancerSecurityGroup", "ServiceSecurityGroup"]
    assert _ingress_of("LoadBalancerSecurityGroup") == {
        (80, 80, "0.0.0.0/0"),
        (443, 443, "0.0.0.0/0"),
    }


def test_only_the_load_balancer_reaches_the_service_port() -> None:
    assert _ingress_of("ServiceSecurityGroup") == {
        (contract.PORT, contract.PORT, "LoadBalancerSecurityGroup")
    }


def test_egress_is_explicit_the_load_balancer_sends_only_to_the_service_port() -> None:
    (egress,) = properties("LoadBalancerSecurityGroup")["SecurityGroupEgress"]
    assert (egress["FromPort"], egress["ToPort"]) == (contract.PORT, contract.PORT)
    assert egress["DestinationSecurityGroupId"] == {"Ref": "ServiceSecurityGroup"}
    # Placed public (local), the tasks send 443 anywhere and nothing else; private placement's
    # egress is in test_templates_placement.py.
    (tasks,) = properties("ServiceSecurityGroup", "local")["SecurityGroupEgress"]
    assert (tasks["FromPort"], tasks["ToPort"], tasks["CidrIp"]) == (443, 443, "0.0.0.0/0")


def test_public_ingress_skip_is_the_only_checkov_skip_on_the_edge_and_has_a_reason() -> None:
    metadata = stack_template()["Resources"]["LoadBalancerSecurityGroup"]["Metadata"]
    (skip,) = metadata["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_260"
    assert "redirect" in skip["comment"]


def test_load_balancer_is_internet_facing_and_drops_invalid_headers() -> None:
    alb = properties("LoadBalancer")
    assert alb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    # production protects it once the stack exists (tests/test_templates_aws_rules.py)
    assert attributes["deletion_protection.enabled"] == {"Fn::If": ["FirstCreate", "false", "true"]}
    local = {
        a["Key"]: a["Value"] for a in properties("LoadBalancer", "local")["LoadBalancerAttributes"]
    }
    assert local["deletion_protection.enabled"] == "false"


def test_http_listener_only_redirects_to_https() -> None:
    listener = properties("HttpListener")
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "Port": "443",
        "StatusCode": "HTTP_301",
    }


def test_https_listener_uses_tls12_or_better_and_forwards_to_the_target_group() -> None:
    listener = properties("HttpsListener")
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listener["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}
    ]


def test_production_creates_a_dns_validated_certificate() -> None:
    certificate = properties("Certificate")
    assert certificate["DomainName"] == "app.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"][0]["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert properties("HttpsListener")["Certificates"] == [
        {"CertificateArn": {"Ref": "Certificate"}}
    ]


def test_a_configured_certificate_is_a_parameter_and_none_is_created() -> None:
    env = load("staging")
    (stack,) = [s for s in build_stacks(env, "test") if s.key == "svc-web"]
    template = stack.template.to_dict()
    assert "Certificate" not in template["Resources"]
    listener = template["Resources"]["HttpsListener"]["Properties"]
    assert listener["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    # the deployer fills it with the manifest's certificate: no ARN is written in the wiring
    assert stack.parameters_from_certificate == ("CertificateArn",)
    assert "CertificateArn" not in stack.parameters


def test_target_group_checks_the_health_path_of_ip_targets_on_the_service_port() -> None:
    group = properties("TargetGroup")
    assert (group["Port"], group["Protocol"], group["TargetType"]) == (contract.PORT, "HTTP", "ip")
    assert group["HealthCheckPath"] == contract.HEALTH_PATH == "/_health"
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    assert int(attributes["deregistration_delay.timeout_seconds"]) <= 30


def test_domain_is_an_alias_a_record_to_the_load_balancer() -> None:
    record = properties("DnsRecord")
    assert (record["HostedZoneId"], record["Name"], record["Type"]) == (
        {"Ref": "HostedZoneId"},
        "app.example.com",
        "A",
    )
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert stack_template()["Outputs"]["Url"]["Value"] == "https://app.example.com/"
