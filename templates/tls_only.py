"""The statement every bucket policy of this project carries: no S3 request over plain HTTP.

One definition, used by every bucket the templates write a policy for (the assets bucket and
each stack's access-log bucket), so that no bucket can be added without it unnoticed: the
tests check every `AWS::S3::BucketPolicy` of every stack for it.
"""

from __future__ import annotations

import awacs.s3 as as3
from awacs.aws import Bool, Condition, Deny, Principal, Statement
from troposphere import Join, s3

SID = "DenyWithoutTls"


def deny_without_tls(bucket: s3.Bucket) -> Statement:
    """A Deny: every S3 action on the bucket and its objects over plain HTTP is refused,
    whoever asks, whatever else the policy or the caller's own policies allow."""
    return Statement(
        Sid=SID,
        Effect=Deny,
        Principal=Principal("*"),
        Action=[as3.Action("*")],
        Resource=[bucket.get_att("Arn"), Join("", [bucket.get_att("Arn"), "/*"])],
        Condition=Condition(Bool("aws:SecureTransport", "false")),
    )
