"""The one shape of S3 bucket this project makes: private, versioned, encrypted, kept on delete."""

from __future__ import annotations

from typing import Any

from troposphere import s3


def private_bucket(title: str, **properties: Any) -> s3.Bucket:
    return s3.Bucket(
        title,
        # A bucket holds data: deleting or replacing the stack must not delete it.
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    # SSE-S3: the only encryption ELB log delivery supports, and enough for
                    # public assets.
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    ),
                )
            ]
        ),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        **properties,
    )
