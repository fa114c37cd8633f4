"""Who reaches which port, the listeners, the certificate, the target group and DNS: the
load balancer is the environment stack's, each service's rule, group and target group its own."""

from __future__ import annotations

from typing import Any

from templates_support import filled_template, properties, resources_of_type, stack_template

from environments import load
from service import contract
from templates import build_stacks

ENV = "environment"


def _rules(rules: list[dict[str, Any]]) -> set[tuple[int, int, str]]:
    return {
        (r["FromPort"], r["ToPort"], r.get("CidrIp") or r["SourceSecurityGroupId"]["Ref"])
        for r in rules
    }


def _ingress_of(group: str, key: str = "svc-web") -> set[tuple[int, int, str]]:
    """Inline rules and separate ingress resources alike."""
    resources = stack_template(key=key)["Resources"]
    rules = list(resources[group]["Properties"].get("SecurityGroupIngress", []))
    rules += [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Ref": group}
    ]
    return _rules(rules)


def test_internet_reaches_nothing_but_the_load_balancer() -> None:
    def groups(key: str) -> list[str]:
        resources = stack_template(key=key)["Resources"].items()
        return [k for k, v in resources if v["Type"] == "AWS::EC2::SecurityGroup"]

    assert groups(ENV) == ["LoadBalancerSecurityGroup"]
    assert groups("svc-web") == ["ServiceSecurityGroup"]
    assert _ingress_of("LoadBalancerSecurityGroup", ENV) == {
        (80, 80, "0.0.0.0/0"),
        (443, 443, "0.0.0.0/0"),
    }


def test_only_the_load_balancer_reaches_the_service_port() -> None:
    # The load balancer's group, the environment stack's, is a parameter of the service's.
    assert _ingress_of("ServiceSecurityGroup") == {
        (contract.PORT, contract.PORT, "LoadBalancerSecurityGroupId")
    }


def test_egress_is_explicit_the_load_balancer_sends_only_to_the_service_port() -> None:
    # The group's own rule matches no traffic (AWS's allow-all is not added to a group given
    # one); each service stack adds the rule to its tasks' port.
    (none,) = properties("LoadBalancerSecurityGroup", key=ENV)["SecurityGroupEgress"]
    assert (none["IpProtocol"], none["CidrIp"]) == ("icmp", "255.255.255.255/32")
    egress = properties("LoadBalancerToServiceEgress")
    assert egress["GroupId"] == {"Ref": "LoadBalancerSecurityGroupId"}
    assert (egress["FromPort"], egress["ToPort"]) == (contract.PORT, contract.PORT)
    assert egress["DestinationSecurityGroupId"] == {"Ref": "ServiceSecurityGroup"}
    # Placed public (local), the tasks send 443 anywhere and nothing else; private placement's
    # egress is in test_templates_placement.py.
    (tasks,) = properties("ServiceSecurityGroup", "local")["SecurityGroupEgress"]
    assert (tasks["FromPort"], tasks["ToPort"], tasks["CidrIp"]) == (443, 443, "0.0.0.0/0")


def test_public_ingress_skip_is_the_only_checkov_skip_on_the_edge_and_has_a_reason() -> None:
    metadata = stack_template(key=ENV)["Resources"]["LoadBalancerSecurityGroup"]["Metadata"]
    (skip,) = metadata["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_260"
    assert "redirect" in skip["comment"]


def test_load_balancer_is_internet_facing_and_drops_invalid_headers() -> None:
    alb = properties("LoadBalancer", key=ENV)
    assert alb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    # production protects it once the stack exists (tests/test_templates_aws_rules.py)
    assert attributes["deletion_protection.enabled"] == {"Fn::If": ["FirstCreate", "false", "true"]}
    local = {
        a["Key"]: a["Value"]
        for a in properties("LoadBalancer", "local", ENV)["LoadBalancerAttributes"]
    }
    assert local["deletion_protection.enabled"] == "false"


def test_http_listener_only_redirects_to_https() -> None:
    listener = properties("HttpListener", key=ENV)
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "Port": "443",
        "StatusCode": "HTTP_301",
    }


def test_https_listener_uses_tls12_or_better_and_answers_404_to_what_no_rule_routes() -> None:
    listener = properties("HttpsListener", key=ENV)
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "fixed-response"
    assert action["FixedResponseConfig"]["StatusCode"] == "404"


def test_each_service_forwards_its_host_and_path_to_its_target_group() -> None:
    web = filled_template("local", "svc-web")["Resources"]["ListenerRule"]["Properties"]
    api = filled_template("local", "svc-api")["Resources"]["ListenerRule"]["Properties"]
    for rule in (web, api):
        assert rule["ListenerArn"] == {"Ref": "HttpsListenerArn"}
        assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    assert web["Conditions"] == [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["local.example.com"]}}
    ]
    assert api["Conditions"][1] == {
        "Field": "path-pattern",
        "PathPatternConfig": {"Values": ["/api", "/api/*"]},
    }
    # The more specific rule (host and path) is evaluated first: the lower priority.
    assert int(api["Priority"]) < int(web["Priority"])


def test_production_creates_a_dns_validated_certificate() -> None:
    certificate = properties("Certificate", key=ENV)
    assert certificate["DomainName"] == "app.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"][0]["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert properties("HttpsListener", key=ENV)["Certificates"] == [
        {"CertificateArn": {"Ref": "Certificate"}}
    ]


def test_a_configured_certificate_is_a_parameter_and_none_is_created() -> None:
    env = load("staging")
    (stack,) = [s for s in build_stacks(env, "test") if s.key == ENV]
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
    record = properties("DnsRecord", key=ENV)
    assert (record["HostedZoneId"], record["Name"], record["Type"]) == (
        {"Ref": "HostedZoneId"},
        "app.example.com",
        "A",
    )
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert stack_template(key=ENV)["Outputs"]["Url"]["Value"] == "https://app.example.com/"
    assert filled_template()["Outputs"]["Url"]["Value"] == "https://app.example.com/"
    # A service on a host of its own has its record too, and none is written twice.
    records = resources_of_type("AWS::Route53::RecordSet", "local", ENV)
    assert [r["Name"] for r in records.values()] == ["local.example.com"]
