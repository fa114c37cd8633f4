"""The static stack: a private bucket that only its CloudFront distribution reads, over TLS;
and how the service stack learns the assets' URL in each environment."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from environments import load
from service.contract import STATIC_PATH, STATIC_SOURCE
from templates import build_stacks
from templates.static_assets import CACHING_OPTIMIZED_POLICY_ID, SECURITY_HEADERS_POLICY_ID

ROOT = Path(__file__).resolve().parent.parent


@cache
def _stacks(env_name: str = "production") -> dict[str, Any]:
    return {s.key: s for s in build_stacks(load(env_name), "test")}


def _resources(key: str = "static") -> dict[str, Any]:
    return _stacks()[key].template.to_dict()["Resources"]


def _distribution() -> dict[str, Any]:
    return _resources()["StaticAssetsDistribution"]["Properties"]["DistributionConfig"]


def test_the_static_stack_exists_only_with_a_cdn_and_comes_before_the_service() -> None:
    for name in ("production", "staging", "local"):
        keys = list(_stacks(name))
        assert ("static" in keys) is load(name).static_assets.cdn
        if "static" in keys:
            assert keys.index("static") < keys.index("svc-web")
            assert "static" in _stacks(name)["svc-web"].depends_on
    assert load("local").static_assets.cdn is False


def test_origin_access_control_signs_every_request_to_s3() -> None:
    config = _resources()["StaticAssetsOriginAccessControl"]["Properties"]
    assert {
        k: v for k, v in config["OriginAccessControlConfig"].items() if k.startswith(("Or", "Si"))
    } == {
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    (origin,) = _distribution()["Origins"]
    assert origin["OriginAccessControlId"] == {
        "Fn::GetAtt": ["StaticAssetsOriginAccessControl", "Id"]
    }
    assert origin["DomainName"] == {"Fn::GetAtt": ["StaticAssetsBucket", "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_distribution_is_https_only_cached_with_security_headers() -> None:
    config = _distribution()
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] == CACHING_OPTIMIZED_POLICY_ID
    assert behavior["ResponseHeadersPolicyId"] == SECURITY_HEADERS_POLICY_ID
    assert behavior["TargetOriginId"] == config["Origins"][0]["Id"]
    assert "ForwardedValues" not in behavior  # the cache policy decides the cache key
    assert (config["HttpVersion"], config["PriceClass"]) == ("http2and3", "PriceClass_100")
    assert config["Enabled"] is True


def test_only_the_distribution_reads_the_bucket_and_nothing_without_tls() -> None:
    policy = _resources()["StaticAssetsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "StaticAssetsBucket"}
    read, deny = policy["PolicyDocument"]["Statement"]
    assert policy["PolicyDocument"]["Version"] == "2012-10-17"
    assert (read["Effect"], read["Action"]) == ("Allow", ["s3:GetObject"])
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    (source_arn,) = read["Condition"]["ArnEquals"].values()
    assert list(read["Condition"]["ArnEquals"]) == ["AWS:SourceArn"]
    assert {"Ref": "StaticAssetsDistribution"} in source_arn["Fn::Join"][1]
    assert ":distribution/" in source_arn["Fn::Join"][1]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and its objects


def test_static_stack_outputs_the_assets_base_url() -> None:
    outputs = _stacks()["static"].template.to_dict()["Outputs"]
    # The environment's own name for the distribution, not *.cloudfront.net.
    assert outputs["AssetsBaseUrl"]["Value"] == "https://assets.app.example.com"


def _static_url(env_name: str) -> Any:
    template = _stacks(env_name)["svc-web"].template.to_dict()
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert "STATIC_BUCKET" not in environment
    return environment["STATIC_URL"]


def test_with_a_cdn_the_container_gets_the_cdn_url_under_the_revision() -> None:
    assert _static_url("production") == {
        "Fn::Join": ["/", [{"Ref": "StaticUrl"}, {"Ref": "ImageTag"}]]
    }
    service = _stacks()["svc-web"]
    source = service.parameters_from_stacks["StaticUrl"]
    assert (source.stack, source.output, source.resources) == ("static", "AssetsBaseUrl", ())


def test_without_a_cdn_the_app_serves_the_assets_in_its_image() -> None:
    assert _static_url("local") == STATIC_PATH == "/static"
    service = _stacks("local")["svc-web"]
    assert "StaticUrl" not in service.template.to_dict()["Parameters"]
    assert "StaticUrl" not in service.parameters_from_stacks


def test_the_assets_are_where_the_app_serves_them_from() -> None:
    from service import app

    assert app.STATIC_DIR == ROOT / STATIC_SOURCE
    mounts = [r for r in app.app.routes if getattr(r, "name", "") == "static"]
    assert [m.path for m in mounts] == [STATIC_PATH]
