"""The static assets bucket; browsers get the assets through the app, not through CloudFront.

Why through the app: the service is small and already sits behind one load balancer, one
domain and one certificate. Serving `/static/` from the same origin adds no second TLS
endpoint, no CORS, no us-east-1 certificate or WAF for a distribution, and no second place
where caching and alarms must be set up; moto (our local AWS) does not emulate CloudFront
either, so the local environment would differ from production exactly there.

The app mounts `/static/` (service/app.py); the container is told STATIC_URL (the path
browsers use, on the service's own domain) and STATIC_BUCKET (this bucket, the durable,
versioned store of assets that do not ship in the image; the task role may read it, nothing
else may: see iam.py). When static traffic ever outgrows the tasks, a CloudFront distribution
with origin access control can be put in front of this same bucket without moving a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Template, s3

from templates.access_logs import ASSETS_PREFIX, AccessLogs
from templates.buckets import private_bucket

# The path, on the service's own domain, under which the app serves the assets.
STATIC_PATH = "/static/"


@dataclass(frozen=True)
class StaticAssets:
    bucket: s3.Bucket


def add_static_assets(template: Template, access_logs: AccessLogs) -> StaticAssets:
    bucket = template.add_resource(
        private_bucket(
            "StaticAssetsBucket",
            DependsOn=[access_logs.policy],
            LoggingConfiguration=s3.LoggingConfiguration(
                DestinationBucketName=access_logs.bucket.ref(), LogFilePrefix=f"{ASSETS_PREFIX}/"
            ),
        )
    )
    return StaticAssets(bucket=bucket)
