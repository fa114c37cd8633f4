"""Stack parameters: the manifest's values, other stacks' resources or outputs, the hosted
zone's ID, the certificate's ARN (given, or the ISSUED ACM certificate that covers the domain,
found at deploy time), the region's S3 prefix list (ec2:DescribePrefixLists), whether the stack
exists yet, and NoEcho values from the environment (never written to git or build/).

An output is read as deploy.py reports it (deployer/outputs.py): from DescribeStacks, or, where
that gives none (moto, for stacks created through change sets), evaluated from the template's
Outputs and the stack's resources."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployer import outputs
from deployer.errors import PreflightError
from deployer.follow import describe_stack
from deployer.manifest import Certificate, FromStack, Manifest, StackSpec
from deployer.status import is_missing_stack


class UpstreamMissing(Exception):
    """An upstream stack (or one of its resources) does not exist yet."""


class Resolver:
    """Resolves parameters; reads each upstream stack's resources and outputs once per deploy."""

    def __init__(
        self,
        cf: Any,
        manifest: Manifest,
        environ: Mapping[str, str],
        client: Callable[[str], Any],
    ) -> None:
        self.cf = cf
        self.manifest = manifest
        self.environ = environ
        self.client = client
        self._resources: dict[str, dict[str, str]] = {}
        self._outputs: dict[str, dict[str, outputs.Output]] = {}
        self._zone_id: str | None = None
        self._certificate_arn: str | None = None
        self._s3_prefix_list_id: str | None = None

    def forget(self, stack_key: str) -> None:
        """The stack was just updated: its physical IDs and outputs may have changed."""
        self._resources.pop(stack_key, None)
        self._outputs.pop(stack_key, None)

    def check_environment(self, spec: StackSpec) -> None:
        missing = [var for var in spec.parameters_from_env.values() if not self.environ.get(var)]
        if missing:
            names = ", ".join(sorted(missing))
            raise PreflightError(
                f"stack {spec.stack_name} needs {names} in the environment (NoEcho parameters, "
                "never stored in git): export it and run again"
            )

    def parameters(self, spec: StackSpec, exists: bool) -> list[dict[str, Any]]:
        """`exists`: the stack exists (its change set is an UPDATE), not its first create."""
        values = dict(spec.parameters)
        for name in spec.parameters_from_stack_exists:
            values[name] = "true" if exists else "false"
        for name in spec.parameters_from_s3_prefix_list:
            values[name] = self.s3_prefix_list_id()
        for name, ref in spec.parameters_from_stacks.items():
            values[name] = self.from_stack(ref)
        for name in spec.parameters_from_hosted_zone:
            values[name] = self.hosted_zone_id()
        for name in spec.parameters_from_certificate:
            values[name] = self.certificate_arn()
        for name, var in spec.parameters_from_env.items():  # check_environment(spec) came first
            values[name] = self.environ[var]
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]

    def from_stack(self, ref: FromStack) -> str:
        if ref.output is not None:
            return self.output(ref.stack, ref.output)
        physical = self.physical_ids(ref.stack)
        missing = [r for r in ref.resources if r not in physical]
        if missing:
            upstream = self.manifest.stack(ref.stack).stack_name
            raise UpstreamMissing(f"{upstream} has no resource {', '.join(missing)} yet")
        return ",".join(physical[r] for r in ref.resources)

    def stack_outputs(self, spec: StackSpec, stack: dict[str, Any]) -> list[outputs.Output]:
        """The outputs of the stack as `stack` (its DescribeStacks description) shows it,
        kept for the stacks downstream that read them."""
        found = outputs.outputs(
            lambda: self.physical_ids(spec.key), self.client, stack, lambda: spec.template
        )
        self._outputs[spec.key] = {o.key: o for o in found}
        return found

    def output(self, stack_key: str, key: str) -> str:
        """The value of the stack's Output `key`; UpstreamMissing until the stack has one.
        DescribeStacks is asked only when this run has not read the stack's outputs yet."""
        if stack_key not in self._outputs:
            spec = self.manifest.stack(stack_key)
            stack = describe_stack(self.cf, spec.stack_name)
            if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
                raise UpstreamMissing(f"{spec.stack_name} does not exist yet")
            self.stack_outputs(spec, stack)
        found_output = self._outputs[stack_key].get(key)
        if found_output is None or found_output.value is None:
            name = self.manifest.stack(stack_key).stack_name
            why = f" ({found_output.source})" if found_output is not None else ""
            raise UpstreamMissing(f"{name} has no output {key} yet{why}")
        return found_output.value

    def hosted_zone_id(self) -> str:
        """The ID of the manifest's hosted zone, which the account must already have."""
        if self._zone_id is None:
            name = self.manifest.hosted_zone_name or ""
            self._zone_id = find_hosted_zone(self.client("route53"), name)
            if self._zone_id is None:
                raise PreflightError(
                    f"hosted zone {name} does not exist in this account: the stacks need it"
                )
        return self._zone_id

    def s3_prefix_list_id(self) -> str:
        """The ID of the AWS-managed prefix list com.amazonaws.<region>.s3 (each region has
        its own ID), looked up once per run."""
        if self._s3_prefix_list_id is None:
            name = f"com.amazonaws.{self.manifest.region}.s3"
            found = self.client("ec2").describe_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [name]}]
            )["PrefixLists"]
            if not found:
                raise PreflightError(
                    f"ec2:DescribePrefixLists knows no prefix list {name} in "
                    f"{self.manifest.region}: the tasks' security group needs S3's"
                )
            self._s3_prefix_list_id = str(found[0]["PrefixListId"])
        return self._s3_prefix_list_id

    def certificate_arn(self) -> str:
        """The manifest's certificate: its given ARN, else the one found by domain (looked up
        once per run)."""
        if self._certificate_arn is None:
            certificate = self.manifest.certificate
            assert certificate is not None  # manifest.load: a stack that takes one has one
            if certificate.arn is not None:
                self._certificate_arn = certificate.arn
            else:
                found = find_certificate(self.client("acm"), certificate.domain)
                if found is None:
                    raise PreflightError(no_certificate(self.manifest, certificate))
                self._certificate_arn = found.arn
        return self._certificate_arn

    def physical_ids(self, stack_key: str) -> dict[str, str]:
        if stack_key not in self._resources:
            from botocore.exceptions import ClientError

            name = self.manifest.stack(stack_key).stack_name
            try:
                found = self.cf.describe_stack_resources(StackName=name)["StackResources"]
            except ClientError as error:
                if is_missing_stack(error):
                    raise UpstreamMissing(f"{name} does not exist yet") from None
                raise
            self._resources[stack_key] = physical_of(found)
        return self._resources[stack_key]


def physical_of(resources: list[dict[str, Any]]) -> dict[str, str]:
    """DescribeStackResources' answer as logical ID -> physical ID, for the resources created."""
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def find_hosted_zone(route53: Any, name: str) -> str | None:
    """The ID of the hosted zone named `name` (with its final dot), or None."""
    found = route53.list_hosted_zones_by_name(DNSName=name, MaxItems="1")
    zones = [z for z in found["HostedZones"] if z["Name"] == name]
    return zones[0]["Id"].rsplit("/", 1)[-1] if zones else None


# The key types an application load balancer serves (ListCertificates lists only RSA_1024 and
# RSA_2048 ones unless asked for others).
LOAD_BALANCER_KEY_TYPES = [
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]


@dataclass(frozen=True)
class FoundCertificate:
    arn: str
    names: tuple[str, ...]  # its domain name, then its subject alternative names
    not_after: datetime | None


def find_certificate(acm: Any, domain: str) -> FoundCertificate | None:
    """The ISSUED ACM certificate (of the client's region) that covers `domain`; of several,
    the one that stays valid longest (a renewed or re-imported one over the old), or None."""
    found = [
        certificate
        for certificate in (_names(acm, summary) for summary in issued_certificates(acm))
        if any(covers(name, domain) for name in certificate.names)
    ]
    if not found:
        return None
    return max(found, key=lambda c: (c.not_after or datetime.min.replace(tzinfo=UTC), c.arn))


def issued_certificates(acm: Any) -> Iterator[dict[str, Any]]:
    """The summaries of the region's ISSUED certificates, every page of them."""
    request: dict[str, Any] = {
        "CertificateStatuses": ["ISSUED"],
        "Includes": {"keyTypes": LOAD_BALANCER_KEY_TYPES},
    }
    while True:
        page = acm.list_certificates(**request)
        yield from page["CertificateSummaryList"]
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _names(acm: Any, summary: dict[str, Any]) -> FoundCertificate:
    """The names a certificate covers: from its summary when that lists them all, else from
    DescribeCertificate."""
    arn = summary["CertificateArn"]
    listed = summary.get("SubjectAlternativeNameSummaries")
    if listed is not None and not summary.get("HasAdditionalSubjectAlternativeNames"):
        names = tuple(dict.fromkeys((summary["DomainName"], *listed)))
        return FoundCertificate(arn, names, summary.get("NotAfter"))
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    return FoundCertificate(arn, certificate_names(detail), detail.get("NotAfter"))


def certificate_names(detail: dict[str, Any]) -> tuple[str, ...]:
    """The names a DescribeCertificate description covers: its domain, then its other SANs
    (ACM lists the domain among the SANs too)."""
    return tuple(dict.fromkeys((detail["DomainName"], *detail.get("SubjectAlternativeNames", ()))))


def covers(name: str, domain: str) -> bool:
    """A certificate name covers the domain: the same name, or a wildcard one level above
    (`*.example.com` covers `a.example.com`, neither `example.com` nor `a.b.example.com`)."""
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    if name == domain:
        return True
    if not name.startswith("*."):
        return False
    _first, dot, parent = domain.partition(".")
    return bool(dot) and parent == name[2:]


def no_certificate(manifest: Manifest, certificate: Certificate) -> str:
    domain, region = certificate.domain, manifest.region
    return (
        f"no ISSUED ACM certificate in {region} covers {certificate.domain}: request one "
        f"(aws acm request-certificate --region {region} --domain-name {domain} "
        "--validation-method DNS, then add the validation record it asks for) or import one "
        f"(aws acm import-certificate), or set [tls] certificate_arn or create_certificate = "
        f"true in {manifest.source or 'the environment file'}"
    )
