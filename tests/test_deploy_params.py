"""Parameters filled from another stack's Output (`{"stack": ..., "output": ...}` in the
manifest): on moto, whose change-set-created stacks report no Outputs, the template's Output
is evaluated from the stack's resources; with a Stubber, a stack that reports its Outputs (as
AWS does) is taken at its word without reading its resources.

The certificate's ARN: the given one, or the ISSUED certificate that covers the domain, found
in ACM (certificates imported into moto through the public API). And the manifest's fields
for them, read strictly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import test_deploy_support as support
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from troposphere import Output, Parameter, Sub, Template, s3

from deployer import manifest as manifest_module
from deployer.errors import ManifestError, PreflightError
from deployer.manifest import Certificate, FromStack, StackSpec, StaticAssets
from deployer.params import (
    LOAD_BALANCER_KEY_TYPES,
    Resolver,
    UpstreamMissing,
    covers,
    find_certificate,
)

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/test-static/1"


def _upstream() -> Template:
    template = Template()
    bucket = template.add_resource(s3.Bucket("StaticAssetsBucket"))
    template.add_output(Output("AssetsBaseUrl", Value=Sub("https://${StaticAssetsBucket}.example")))
    template.add_output(Output("BucketArn", Value=bucket.get_att("Arn")))  # no describe call
    return template


def _downstream() -> Template:
    template = Template()
    template.add_parameter(Parameter("StaticUrl", Type="String"))
    template.add_resource(s3.Bucket("Unused"))
    return template


def _write(directory: Path) -> manifest_module.Manifest:
    """A static stack and a service stack that takes two of its Outputs."""
    for name, template in (("static", _upstream()), ("service", _downstream())):
        (directory / f"{name}.json").write_text(json.dumps(template.to_dict()))
    manifest = support.manifest_of(
        directory,
        services=(),
        static_assets=StaticAssets("static", "StaticAssetsBucket", Path("service/static"), "t/"),
        stacks=(
            StackSpec("static", "test-static", directory / "static.json"),
            StackSpec(
                "service",
                "test-service",
                directory / "service.json",
                depends_on=("static",),
                parameters_from_stacks={
                    "StaticUrl": FromStack("static", output="AssetsBaseUrl"),
                    "Broken": FromStack("static", output="BucketArn"),
                },
            ),
        ),
    )
    support.save(directory, manifest)
    return manifest_module.load(directory)


def test_manifest_reads_the_output_form_and_where_assets_go(tmp_path: Path) -> None:
    manifest = _write(tmp_path)
    refs = manifest.stack("service").parameters_from_stacks
    assert refs["StaticUrl"] == FromStack("static", (), "AssetsBaseUrl")
    assert manifest.static_assets is not None
    assert (manifest.static_assets.stack, manifest.static_assets.prefix) == ("static", "t/")
    assert manifest.static_assets.source == Path("service/static")


def _deploy_through_a_change_set(cf: Any, body: str) -> None:
    created = cf.create_change_set(
        StackName="test-static", ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=body
    )
    cf.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig={"Delay": 0.1}
    )
    cf.execute_change_set(ChangeSetName=created["Id"])
    cf.get_waiter("stack_create_complete").wait(
        StackName="test-static", WaiterConfig={"Delay": 0.1}
    )


def test_output_is_evaluated_from_resources_when_the_stack_reports_none(
    aws: dict[str, str], tmp_path: Path
) -> None:
    manifest = _write(tmp_path)
    cf = boto3.client("cloudformation")
    resolver = Resolver(cf, manifest, {}, boto3.client)
    with pytest.raises(UpstreamMissing, match="test-static does not exist yet"):
        resolver.output("static", "AssetsBaseUrl")
    _deploy_through_a_change_set(cf, manifest.stack("static").template_body())
    assert not cf.describe_stacks(StackName="test-static")["Stacks"][0].get("Outputs")
    (bucket,) = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    ref = manifest.stack("service").parameters_from_stacks["StaticUrl"]
    assert resolver.from_stack(ref) == f"https://{bucket}.example"
    # An output that cannot be evaluated here waits, and says why.
    with pytest.raises(UpstreamMissing, match=r"no output BucketArn yet .*not resolvable"):
        resolver.output("static", "BucketArn")


def test_output_the_stack_reports_is_taken_as_is(tmp_path: Path) -> None:
    """Stands in for AWS, which reports Outputs of change-set-created stacks (moto does not)."""
    manifest = _write(tmp_path)
    cf = boto3.client("cloudformation", region_name="us-east-1")
    stack = {
        "StackName": "test-static",
        "StackId": STACK_ID,
        "StackStatus": "CREATE_COMPLETE",
        "CreationTime": "2026-01-01T00:00:00Z",
        "Outputs": [{"OutputKey": "AssetsBaseUrl", "OutputValue": "https://d1.cloudfront.net"}],
    }
    with Stubber(cf) as stubber:  # no DescribeStackResources expected
        stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "test-static"})
        resolver = Resolver(cf, manifest, {}, boto3.client)
        assert resolver.output("static", "AssetsBaseUrl") == "https://d1.cloudfront.net"
        assert resolver.output("static", "AssetsBaseUrl") == "https://d1.cloudfront.net"  # cached
        stubber.assert_no_pending_responses()


# ---- the certificate: given, or found by domain ----------------------------------------


def imported_certificate(
    acm: Any, *names: str, valid: timedelta = timedelta(days=365), region: str = ""
) -> str:
    """Import a self-signed certificate for `names` (the first is its subject) into the
    emulator's ACM, through the public API; returns its ARN."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + valid)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    arn: str = acm.import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )["CertificateArn"]
    return arn


def _certificate_manifest(
    tmp_path: Path, certificate: Certificate | None, *, source: str = "environments/x.toml"
) -> manifest_module.Manifest:
    """A manifest whose service stack takes the certificate as CertificateArn."""
    manifest = support.manifest_of(
        tmp_path,
        source=source,
        services=(),
        certificate=certificate,
        stacks=(
            StackSpec(
                "service",
                "test-service",
                tmp_path / "service.json",
                parameters={"ImageTag": "t"},
                parameters_from_certificate=("CertificateArn",),
            ),
        ),
    )
    support.save(tmp_path, manifest)
    return manifest_module.load(tmp_path)


@pytest.mark.parametrize(
    ("name", "domain", "covered"),
    [
        ("local.example.com", "local.example.com", True),
        ("Local.Example.com.", "local.example.com", True),  # DNS names ignore case, final dot
        ("*.example.com", "local.example.com", True),
        ("*.example.com", "a.b.example.com", False),  # a wildcard covers one level only
        ("*.example.com", "example.com", False),
        ("example.com", "local.example.com", False),
        ("*.b.example.com", "a.b.example.com", True),
    ],
)
def test_a_certificate_name_covers_the_domain(name: str, domain: str, covered: bool) -> None:
    assert covers(name, domain) is covered


def test_a_given_certificate_fills_its_parameter_without_asking_acm(tmp_path: Path) -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    manifest = _certificate_manifest(tmp_path, Certificate("local.example.com", arn))

    def no_client(service: str) -> Any:
        raise AssertionError(f"no {service} client wanted")

    resolver = Resolver(None, manifest, {}, no_client)
    assert resolver.parameters(manifest.stack("service"), exists=True) == [
        {"ParameterKey": "CertificateArn", "ParameterValue": arn},
        {"ParameterKey": "ImageTag", "ParameterValue": "t"},
    ]


def test_the_certificate_that_covers_the_domain_is_found(
    aws: dict[str, str], tmp_path: Path
) -> None:
    acm = boto3.client("acm")
    imported_certificate(acm, "other.example.org")
    imported_certificate(acm, "*.other.example.com")
    by_san = imported_certificate(acm, "example.com", "local.example.com")  # the SAN covers it
    manifest = _certificate_manifest(tmp_path, Certificate("local.example.com", None))
    resolver = Resolver(None, manifest, {}, boto3.client)
    values = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in resolver.parameters(manifest.stacks[0], exists=True)
    }
    assert values["CertificateArn"] == by_san

    wildcard = imported_certificate(acm, "*.example.com", valid=timedelta(days=700))
    found = find_certificate(acm, "local.example.com")
    assert found is not None and found.arn == wildcard  # of two, the one valid longer


def test_no_certificate_covering_the_domain_says_how_to_get_one(
    aws: dict[str, str], tmp_path: Path
) -> None:
    acm = boto3.client("acm")
    imported_certificate(acm, "*.local.example.com")  # a level too deep for local.example.com
    acm.request_certificate(DomainName="local.example.com", ValidationMethod="DNS")  # pending
    manifest = _certificate_manifest(tmp_path, Certificate("local.example.com", None))
    resolver = Resolver(None, manifest, {}, boto3.client)
    with pytest.raises(PreflightError) as caught:
        resolver.parameters(manifest.stacks[0], exists=True)
    message = str(caught.value)
    assert message.startswith("no ISSUED ACM certificate in us-east-1 covers local.example.com")
    assert "aws acm request-certificate --region us-east-1 --domain-name local.example.com" in (
        message
    )
    assert "certificate_arn or create_certificate = true in environments/x.toml" in message


def test_certificates_are_read_page_by_page_and_described_only_when_needed() -> None:
    """Stands in for AWS: moto answers ListCertificates in one page and gives no
    SubjectAlternativeNameSummaries; AWS pages by NextToken and lists the names it can."""
    acm = botocore.session.get_session().create_client(
        "acm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/"
    request = {"CertificateStatuses": ["ISSUED"], "Includes": {"keyTypes": LOAD_BALANCER_KEY_TYPES}}
    first = [  # every name listed: no DescribeCertificate
        {"CertificateArn": f"{arn}1", "DomainName": "a.example.org",
         "SubjectAlternativeNameSummaries": ["a.example.org"]},
    ]  # fmt: skip
    second = [  # more names than the summary lists: described
        {"CertificateArn": f"{arn}2", "DomainName": "example.com",
         "SubjectAlternativeNameSummaries": ["example.com"],
         "HasAdditionalSubjectAlternativeNames": True},
    ]  # fmt: skip
    with Stubber(acm) as stubber:
        stubber.add_response(
            "list_certificates", {"CertificateSummaryList": first, "NextToken": "n1"}, request
        )
        stubber.add_response(
            "list_certificates", {"CertificateSummaryList": second}, {**request, "NextToken": "n1"}
        )
        stubber.add_response(
            "describe_certificate",
            {"Certificate": {"CertificateArn": f"{arn}2", "DomainName": "example.com",
                             "SubjectAlternativeNames": ["example.com", "*.example.com"]}},
            {"CertificateArn": f"{arn}2"},
        )  # fmt: skip
        found = find_certificate(acm, "local.example.com")
        stubber.assert_no_pending_responses()
    assert found is not None and found.arn == f"{arn}2"


# ---- the manifest's new fields, read strictly --------------------------------------------


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"certificate": {"domain": "local.example.com"}}, "certificate.arn: missing"),
        ({"certificate": {"domain": 7, "arn": None}}, "certificate.domain must be a string"),
        (
            {"certificate": "arn:aws:acm:us-east-1:1:certificate/x"},
            "certificate must be an object or null",
        ),
        ({"certificate": None}, "takes a certificate, and no certificate is given"),
        ({"source_sha256": 12}, "source_sha256 must be a string or null"),
        ({"vpc": {"id": "vpc-1", "subnets": []}}, "vpc.subnets: the brought VPC has no subnets"),
        (
            {"stack": {"parameters_from_certificate": None}},
            "stacks[0].parameters_from_certificate must be a list of strings",
        ),
        ({"stack": {"parameters_from_certificate": "CertificateArn"}}, "must be a list"),
        ({"stack": {"prerequisites": ["hosted_zone", "dns"]}}, "prerequisites: unknown ['dns']"),
        ({"stack": {"prerequisites": ["vpc"]}}, "needs the brought VPC, and no vpc is given"),
    ],
)
def test_manifest_fields_of_the_wrong_shape_are_refused(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    _certificate_manifest(tmp_path, Certificate("local.example.com", None))  # it loads
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["stacks"][0].update(change.pop("stack", {}))
    data.update(change)
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError) as caught:
        manifest_module.load(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'manifest.json'}: malformed")
    assert complaint in str(caught.value)
    assert str(caught.value).endswith("regenerate it (make templates ENV=...)")


def test_a_template_that_is_not_utf8_names_the_file_the_byte_and_the_fix(tmp_path: Path) -> None:
    manifest = _write(tmp_path)
    template = tmp_path / "static.json"
    content = template.read_bytes()
    template.write_bytes(content[:10] + b"\xff" + content[10:])  # a stray byte
    with pytest.raises(ManifestError) as caught:
        manifest.stack("static").template_body()
    assert str(caught.value) == (
        f"{template}: the template is not UTF-8 (byte 10 is 0xff: invalid start byte); "
        "generate.py writes UTF-8, so the file was changed after it: regenerate it "
        "(make templates ENV=...)"
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-north-1"])
def test_the_s3_prefix_list_and_whether_the_stack_exists_are_filled_at_deploy_time(
    aws: dict[str, str], tmp_path: Path, region: str
) -> None:
    """The prefix list is the region's, as EC2 names it (each region has its own ID: none is
    written in the environment or the template); StackExists is "false" on a first create."""
    manifest = support.manifest_of(
        tmp_path,
        region=region,
        services=(),
        stacks=(
            StackSpec(
                "service",
                "test-service",
                tmp_path / "service.json",
                parameters_from_stack_exists=("StackExists",),
                parameters_from_s3_prefix_list=("S3PrefixListId",),
            ),
        ),
    )
    support.save(tmp_path, manifest)
    loaded = manifest_module.load(tmp_path)
    (expected,) = boto3.client("ec2", region_name=region).describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]
    )["PrefixLists"]
    resolver = Resolver(None, loaded, {}, lambda name: boto3.client(name, region_name=region))
    for exists, word in ((False, "false"), (True, "true")):
        assert resolver.parameters(loaded.stacks[0], exists=exists) == [
            {"ParameterKey": "S3PrefixListId", "ParameterValue": expected["PrefixListId"]},
            {"ParameterKey": "StackExists", "ParameterValue": word},
        ]
