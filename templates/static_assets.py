"""How browsers get the static assets (the page's picture, styles, scripts).

`[static_assets] cdn = true` (production): the assets live in a private S3 bucket of their own
`static` stack, behind a CloudFront distribution that alone may read it (origin access control,
SigV4 on every origin request, a bucket policy naming that distribution). `make push` uploads
each revision's assets under `<image tag>/`, and the container is told
STATIC_URL = https://<distribution>/<image tag>: a cached file never goes stale (a new revision
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
from awacs.aws import (
    Allow,
    Bool,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AccountId, Join, Partition, StackName, Sub, Template, cloudfront, s3

from templates.access_logs import AccessLogs
from templates.buckets import private_bucket
from templates.declared import declare, grants

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

DISTRIBUTION_SKIPS = {
    "checkov": {
        "skip": [
            {
                "id": "CKV_AWS_68",
                "comment": "Public, immutable, cacheable files with no forms, logins or dynamic "
                "origin: a WAF web ACL (which must live in us-east-1) would guard nothing that "
                "CloudFront's built-in DDoS protection does not.",
            },
            {
                "id": "CKV_AWS_174",
                "comment": "The distribution uses the default *.cloudfront.net certificate, for "
                "which CloudFront does not allow a minimum protocol version; TLS 1.2 needs a "
                "custom domain with an ACM certificate in us-east-1.",
            },
            {
                "id": "CKV_AWS_86",
                "comment": "Legacy access logging needs an ACL-enabled bucket (ours enforce "
                "bucket-owner ownership, ACLs off); standard logging v2 can only be set up from "
                "us-east-1, not from this stack's region. The bucket's server access logs "
                "record every origin fetch.",
            },
        ]
    }
}


@dataclass(frozen=True)
class StaticAssets:
    bucket: s3.Bucket
    distribution: cloudfront.Distribution
    policy: s3.BucketPolicy


def add_static_assets(template: Template, access_logs: AccessLogs) -> StaticAssets:
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
            Metadata=DISTRIBUTION_SKIPS,
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
                ViewerCertificate=cloudfront.ViewerCertificate(CloudFrontDefaultCertificate=True),
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


def base_url(distribution: cloudfront.Distribution) -> Join:
    return Join("", ["https://", distribution.get_att("DomainName")])


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
                Condition=Condition(StringEquals("AWS:SourceArn", distribution_arn(distribution))),
            ),
            Statement(
                Sid="DenyWithoutTls",
                Effect=Deny,
                Principal=Principal("*"),
                # A Deny: every S3 action over plain HTTP is refused, whoever asks.
                Action=[as3.Action("*")],
                Resource=[bucket.get_att("Arn"), objects],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
        ],
    )
