from __future__ import annotations

import boto3


def test_emulator_answers_over_http(aws: dict[str, str]) -> None:
    sts = boto3.client("sts")
    assert sts.get_caller_identity()["Account"].isdigit()
    assert sts.meta.endpoint_url == aws["AWS_ENDPOINT_URL"]
