"""How a change set gets its template (deployer/changeset.template_argument): minified JSON,
as TemplateBody whenever that fits AWS's 51,200 bytes, else uploaded to the account's template
bucket with ExpectedBucketOwner on every read and write of it. Against moto over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from deployer import changeset
from environments import load
from generate import generate, render

ACCOUNT = "123456789012"  # moto's


@dataclass
class RecordingAws:
    """What template_argument uses of deployer.session.Aws: client() and region; each S3
    call's parameters are recorded (botocore's before-parameter-build event)."""

    region: str = "us-east-1"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def client(self, name: str) -> Any:
        client = boto3.client(name, region_name=self.region)
        client.meta.events.register(
            "before-parameter-build.s3.*",
            lambda model, params, **_: self.calls.append((model.name, dict(params))),
        )
        return client


def argument(aws: RecordingAws, body: str) -> dict[str, str]:
    return changeset.template_argument(aws, "stack", body, lambda: ACCOUNT, lambda _line: None)


def test_a_template_over_the_limit_goes_minified_in_the_request(aws: dict[str, str]) -> None:
    """The pretty template is over the limit; minified it fits, so no bucket is needed (the
    plan role of a pull request can use none). Since each service has a stack of its own, the
    largest generated template is staging's ci stack's."""
    pretty = generate(load("staging"), "test")["ci.json"]
    assert len(pretty.encode()) > changeset.TEMPLATE_BODY_LIMIT
    recording = RecordingAws()
    sent = argument(recording, pretty)
    assert set(sent) == {"TemplateBody"}
    assert len(sent["TemplateBody"].encode()) <= changeset.TEMPLATE_BODY_LIMIT
    assert json.loads(sent["TemplateBody"]) == json.loads(pretty)
    assert "\n" not in sent["TemplateBody"]  # no indentation: about 30 KB of 56
    assert recording.calls == []


def test_a_large_template_is_uploaded_with_the_expected_owner(aws: dict[str, str]) -> None:
    big = render({"Resources": {}, "Metadata": {"Padding": "x" * 60_000}})
    recording = RecordingAws()
    sent = argument(recording, big)
    bucket = f"cfn-templates-{ACCOUNT}-us-east-1"
    assert sent["TemplateURL"].startswith(f"https://{bucket}.s3.us-east-1.amazonaws.com/stack/")
    names = [name for name, _ in recording.calls]
    assert names == ["HeadBucket", "CreateBucket", "PutPublicAccessBlock", "PutObject"]
    for name, params in recording.calls:
        if name != "CreateBucket":  # CreateBucket has no such parameter: a new bucket is ours
            assert params.get("ExpectedBucketOwner") == ACCOUNT, name
    key = sent["TemplateURL"].split(".amazonaws.com/", 1)[1]
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert stored == changeset.minified(big)
    recording.calls.clear()
    argument(recording, big)  # the bucket exists now: read with the expected owner, then put
    assert [(n, p.get("ExpectedBucketOwner")) for n, p in recording.calls] == [
        ("HeadBucket", ACCOUNT),
        ("PutObject", ACCOUNT),
    ]


@pytest.mark.parametrize("name", ["local", "production", "staging"])
def test_every_generated_template_fits_the_request_minified(name: str) -> None:
    """So no environment needs the template bucket today (it stays for larger templates)."""
    for file, text in generate(load(name), "test").items():
        if file != "manifest.json":
            assert len(changeset.minified(text).encode()) <= changeset.TEMPLATE_BODY_LIMIT, file
