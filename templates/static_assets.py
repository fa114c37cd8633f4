"""How browsers get the static assets (the page's picture, styles, scripts).

`[static_assets] cdn = true` (production): the assets live in a private S3 bucket of their own
`static` stack, behind a CloudFront distribution that alone may read it (origin access control,
SigV4 on every origin request, a bucket policy naming that distribution). The distribution
answers on the environment's own name (`assets.<dns.domain>` unless configured), with an ACM
certificate of us-east-1 (the only region CloudFront takes one from), TLS 1.2 or later only
(TLSv1.2_2021, SNI), and a Route53 alias (A and AAAA) in the hosted zone. `make push` uploads
each revision's assets under `<image tag>/`, and the container is told
STATIC_URL = https://<assets domain>/<image tag>: a cached file never goes stale (a new revision
is a new path, so objects can be `immutable` for a year), and the old tasks of a rolling deploy
keep the assets they were built with. The service itself never reads the bucket and is granted
nothing on it: it only writes that URL into its page.

The stack has its own lifecycle: a CDN is slow to create and change, and the bucket holds data
(kept on delete); both outlive any number of service deployments, and the service stack only
takes the distribution's URL (the `AssetsBaseUrl` output) as its `StaticUrl` parameter.

`cdn = false` (local): no static stack and no bucket; the app serves the copy of the assets in
its image at STATIC_PATH (service/app.py mounts it). moto, our local AWS, has no CloudFront at
all, so the local environment cannot have the distribution anyway.

No default root object: the distribution serves assets by their full revisioned path and has
no index page; a request for `/` reaches S3 for the empty key, which origin access control
without ListBucket answers with 403, listing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.s3 as as3
from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement
from troposphere import (
    AccountId,
    Join,
    Parameter,
    Partition,
    StackName,
    Sub,
    Template,
    cloudfront,
    route53,
    s3,
)

from environments.model import DnsConfig, StaticAssetsConfig
from templates.access_logs import AccessLogs
from templates.buckets import private_bucket
from templates.declared import accepts, declare, grants
from templates.edge import add_dns_validated_certificate
from templates.tls_only import deny_without_tls

STATIC_STACK = "static"
BUCKET = "StaticAssetsBucket"
BASE_URL_OUTPUT = "AssetsBaseUrl"

# AWS-managed policies, attached by their documented IDs (they are the same in every account):
# CachingOptimized (docs: using-managed-cache-policies.html): long TTLs, gzip and brotli, no
# cookies, headers or query strings in the cache key.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# SecurityHeadersPolicy (docs: using-managed-response-headers-policies.html): HSTS, nosniff,
# X-Frame-Options, Referrer-Policy, X-XSS-Protection on every response.
SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ORIGIN_ID = "assets"
# TLS 1.2 or later, the strongest of CloudFront's policies for viewers (docs:
# secure-connections-supported-viewer-protocols-ciphers.html).
VIEWER_TLS_POLICY = "TLSv1.2_2021"
# The hosted zone ID of every CloudFront alias target (docs: Route53 AliasTarget).
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"

DISTRIBUTION_RISKS = (
    accepts(
        "No WAF web ACL in front of the distribution",
        "Public, immutable, cacheable files with no forms, logins or dynamic origin: a WAF web "
        "ACL (which must live in us-east-1) would guard nothing that CloudFront's built-in "
        "DDoS protection does not.",
        checkov=("CKV_AWS_68",),
    ),
    accepts(
        "No CloudFront access logging",
        "Legacy access logging needs an ACL-enabled bucket (ours enforce bucket-owner "
        "ownership, ACLs off); standard logging v2 can only be set up from us-east-1, not from "
        "this stack's region. The bucket's server access logs record every origin fetch.",
        checkov=("CKV_AWS_86",),
    ),
)


@dataclass(frozen=True)
class StaticAssets:
    bucket: s3.Bucket
    distribution: cloudfront.Distribution
    policy: s3.BucketPolicy


def add_static_assets(
    template: Template,
    access_logs: AccessLogs,
    config: StaticAssetsConfig,
    dns: DnsConfig,
    hosted_zone_id: Parameter,
) -> StaticAssets:
    """`hosted_zone_id`: the domain's zone, where the records go (and the certificate the
    stack creates, if it creates one, is validated)."""
    assert config.domain_name is not None  # the loader sets it whenever cdn is true
    domain = config.domain_name
    bucket = template.add_resource(
        private_bucket(
            BUCKET,
            DependsOn=[access_logs.policy],
            LoggingConfiguration=s3.LoggingConfiguration(
                DestinationBucketName=access_logs.bucket.ref(),
                LogFilePrefix=f"{access_logs.prefix}/",
            ),
        )
    )
    access_control = template.add_resource(
        cloudfront.OriginAccessControl(
            "StaticAssetsOriginAccessControl",
            OriginAccessControlConfig=cloudfront.OriginAccessControlConfig(
                Name=Sub("${AWS::StackName}-assets"),
                Description="CloudFront signs every request to the static assets bucket",
                OriginAccessControlOriginType="s3",
                SigningBehavior="always",
                SigningProtocol="sigv4",
            ),
        )
    )
    distribution = template.add_resource(
        cloudfront.Distribution(
            "StaticAssetsDistribution",
            DistributionConfig=cloudfront.DistributionConfig(
                Comment=Join(" ", [StackName, "static assets"]),
                Enabled=True,
                HttpVersion="http2and3",
                IPV6Enabled=True,
                PriceClass="PriceClass_100",
                Origins=[
                    cloudfront.Origin(
                        Id=ORIGIN_ID,
                        DomainName=bucket.get_att("RegionalDomainName"),
                        OriginAccessControlId=access_control.get_att("Id"),
                        # Empty: origin access control, not the legacy origin access identity.
                        S3OriginConfig=cloudfront.S3OriginConfig(OriginAccessIdentity=""),
                    )
                ],
                DefaultCacheBehavior=cloudfront.DefaultCacheBehavior(
                    TargetOriginId=ORIGIN_ID,
                    ViewerProtocolPolicy="redirect-to-https",
                    AllowedMethods=["GET", "HEAD"],
                    CachedMethods=["GET", "HEAD"],
                    Compress=True,
                    CachePolicyId=CACHING_OPTIMIZED_POLICY_ID,
                    ResponseHeadersPolicyId=SECURITY_HEADERS_POLICY_ID,
                ),
                Aliases=[domain],
                ViewerCertificate=cloudfront.ViewerCertificate(
                    AcmCertificateArn=_certificate_arn(template, config, hosted_zone_id),
                    MinimumProtocolVersion=VIEWER_TLS_POLICY,
                    SslSupportMethod="sni-only",
                ),
            ),
        )
    )
    declare(distribution, *DISTRIBUTION_RISKS)
    for kind in ("A", "AAAA"):  # IPv6Enabled: both families resolve to the distribution
        template.add_resource(
            route53.RecordSetType(
                f"StaticAssetsDnsRecord{kind}",
                HostedZoneId=hosted_zone_id.ref(),
                Name=domain,
                Type=kind,
                AliasTarget=route53.AliasTarget(
                    HostedZoneId=CLOUDFRONT_HOSTED_ZONE_ID,
                    DNSName=distribution.get_att("DomainName"),
                ),
            )
        )
    policy = template.add_resource(
        s3.BucketPolicy(
            "StaticAssetsBucketPolicy",
            Bucket=bucket.ref(),
            PolicyDocument=_read_by_distribution_only(bucket, distribution),
        )
    )
    declare(
        policy,
        grants("cloudfront.amazonaws.com", "the CDN reads the assets, for this distribution only"),
    )
    return StaticAssets(bucket=bucket, distribution=distribution, policy=policy)


def distribution_arn(distribution: cloudfront.Distribution) -> Join:
    return Join(
        "", ["arn:", Partition, ":cloudfront::", AccountId, ":distribution/", distribution.ref()]
    )


def base_url(config: StaticAssetsConfig) -> str:
    return f"https://{config.domain_name}"


def _certificate_arn(
    template: Template, config: StaticAssetsConfig, hosted_zone_id: Parameter
) -> object:
    if config.certificate_arn is not None:
        return config.certificate_arn
    return add_dns_validated_certificate(
        template, "StaticAssetsCertificate", str(config.domain_name), hosted_zone_id
    ).ref()


def _read_by_distribution_only(
    bucket: s3.Bucket, distribution: cloudfront.Distribution
) -> PolicyDocument:
    objects = Join("", [bucket.get_att("Arn"), "/*"])
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="CloudFrontReadsAssets",
                Effect=Allow,
                Principal=Principal("Service", "cloudfront.amazonaws.com"),
                Action=[as3.GetObject],
                Resource=[objects],
                Condition=Condition(ArnEquals("AWS:SourceArn", distribution_arn(distribution))),
            ),
            deny_without_tls(bucket),
        ],
    )
