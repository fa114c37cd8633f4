"""generate.py: byte-stable output, the manifest contract, the image tag, lint and errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import generate
from deployer import manifest as manifests
from deployer.manifest import stale_environment
from environments import TlsConfig, load

ROOT = Path(__file__).resolve().parent.parent


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    env = load("local")
    first = generate.generate(env, "abc")
    generate.write(tmp_path, first)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    generate.write(tmp_path, generate.generate(env, "abc"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert json.loads(before["svc-web.json"]) == json.loads(first["svc-web.json"])


def test_templates_do_not_change_with_the_image_tag() -> None:
    env = load("production")
    one, two = generate.generate(env, "aaaaaaaaaaaa"), generate.generate(env, "bbbbbbbbbbbb")
    assert {k: v for k, v in one.items() if k != "manifest.json"} == {
        k: v for k, v in two.items() if k != "manifest.json"
    }


def test_manifest_follows_the_contract() -> None:
    manifest = json.loads(generate.generate(load("local"), "abc123")["manifest.json"])
    assert manifest["environment"] == "local"
    assert manifest["source"] == "environments/local.toml"
    assert manifest["region"] == "us-east-1"
    assert manifest["termination_protection"] is False
    assert manifest["services"] == [
        {
            "name": "web",
            "stack": "svc-web",
            "image": {"repository_name": "scalable-app-local", "tag": "abc123"},
            "url": "https://local.example.com",
            "health_path": "/_health",
            "progressive": None,  # local ships rolling
        },
        {
            "name": "api",
            "stack": "svc-api",
            "image": {"repository_name": "scalable-app-local", "tag": "abc123"},
            "url": "https://local.example.com/api",
            "health_path": "/_health",
            "progressive": None,
        },
    ]
    assert manifest["hosted_zone"] == {"name": "example.com."}
    assert list(manifest["ssm_parameters"]) == ["/scalable-app/local/pagerduty-url"]
    assert manifest["static_assets"] is None  # local: no CDN, nothing to upload
    stacks = {s["key"]: s for s in manifest["stacks"]}
    assert [s["key"] for s in manifest["stacks"]] == [
        "network",
        "registry",
        "environment",
        "svc-web",
        "svc-api",
    ]
    service, environment = stacks["svc-web"], stacks["environment"]
    assert service["stack_name"] == "scalable-app-local-svc-web"
    assert service["template"] == "svc-web.json"
    assert service["depends_on"] == ["environment", "network", "registry"]
    assert environment["depends_on"] == ["network"]
    # The environment stack's resources reach the services as parameters of physical IDs.
    assert service["parameters_from_stacks"]["HttpsListenerArn"] == {
        "stack": "environment",
        "resources": ["HttpsListener"],
    }
    assert service["parameters_from_stacks"]["ClusterName"] == {
        "stack": "environment",
        "resources": ["Cluster"],
    }
    assert stacks["svc-api"]["service"] == "api" and environment["service"] is None
    assert service["service"] == "web"
    assert stacks["registry"]["service"] is None
    assert service["parameters"]["ImageTag"] == "abc123"
    assert service["parameters_from_stacks"]["SubnetIds"] == {
        "stack": "network",
        "resources": ["PublicSubnetA", "PublicSubnetB"],
    }
    assert service["capabilities"] == environment["capabilities"] == ["CAPABILITY_IAM"]
    assert stacks["network"]["capabilities"] == ["CAPABILITY_IAM"]  # its flow-log role
    assert service["tags"] == {
        "team": "platform",
        "scalable-app:environment": "local",
        "scalable-app:service": "web",
    }
    assert stacks["network"]["tags"] == {"team": "platform", "scalable-app:environment": "local"}
    # local finds its certificate by domain: the deployer fills CertificateArn at deploy time.
    assert manifest["certificate"] == {"domain": "local.example.com", "arn": None}
    assert environment["parameters_from_certificate"] == ["CertificateArn"]
    assert "CertificateArn" not in environment["parameters"]
    assert environment["prerequisites"] == ["hosted_zone", "ssm_parameters"]
    assert service["prerequisites"] == []
    assert stacks["registry"]["prerequisites"] == stacks["network"]["prerequisites"] == []
    assert manifest["vpc"] is None  # the network stack creates it
    local_toml = (ROOT / "environments" / "local.toml").read_bytes()
    assert manifest["source_sha256"] == hashlib.sha256(local_toml).hexdigest()
    for stack in manifest["stacks"]:
        assert set(stack) >= {
            "key", "stack_name", "template", "depends_on", "capabilities", "tags", "parameters",
            "parameters_from_stacks", "parameters_from_env", "parameters_from_hosted_zone",
            "parameters_from_certificate", "parameters_from_stack_exists",
            "parameters_from_s3_prefix_list", "prerequisites", "service",
        }  # fmt: skip
    # Every parameter a template declares without a default is filled by one source.
    for stack in manifest["stacks"]:
        template = json.loads(generate.generate(load("local"), "abc123")[stack["template"]])
        declared = set(template.get("Parameters", {}))
        filled = (
            set(stack["parameters"])
            | set(stack["parameters_from_stacks"])
            | set(stack["parameters_from_env"])
            | set(stack["parameters_from_hosted_zone"])
            | set(stack["parameters_from_certificate"])
            | set(stack["parameters_from_stack_exists"])
            | set(stack["parameters_from_s3_prefix_list"])
        )
        assert declared == filled


def test_manifest_names_a_given_certificate_and_the_vpc_the_environment_brings() -> None:
    manifest = json.loads(generate.generate(load("staging"), "t")["manifest.json"])
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    assert manifest["certificate"] == {"domain": "staging.example.com", "arn": arn}
    assert manifest["vpc"] == {
        "id": "vpc-0123456789abcdef0",
        "subnets": [
            {"id": "subnet-0123456789abcdef0", "availability_zone": "eu-west-1a"},
            {"id": "subnet-0fedcba9876543210", "availability_zone": "eu-west-1b"},
        ],
    }
    stacks = {s["key"]: s for s in manifest["stacks"]}
    environment = stacks["environment"]
    assert environment["parameters_from_certificate"] == ["CertificateArn"]
    assert "CertificateArn" not in environment["parameters"]  # one ARN: the manifest's
    # The PagerDuty URL comes from a variable here: no SSM parameter to check.
    assert environment["prerequisites"] == ["hosted_zone", "vpc"]
    assert stacks["svc-web"]["prerequisites"] == ["vpc"]
    assert stacks["registry"]["prerequisites"] == []
    assert stacks["static"]["prerequisites"] == ["hosted_zone"]  # the CDN's alias records


def test_manifest_of_a_created_certificate_names_none() -> None:
    manifest = json.loads(generate.generate(load("production"), "t")["manifest.json"])
    assert manifest["certificate"] is None
    service = next(s for s in manifest["stacks"] if s["key"] == "environment")
    assert service["parameters_from_certificate"] == []
    assert service["parameters_from_hosted_zone"] == ["HostedZoneId"]  # it validates by DNS
    assert service["prerequisites"] == ["hosted_zone", "ssm_parameters"]


def test_a_found_certificate_builds_the_templates_of_a_given_one() -> None:
    """The environment stack takes a CertificateArn parameter either way, from its wiring's
    parameters_from_certificate; only the manifest says where its value comes from."""
    found = load("local")
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    given = replace(found, tls=TlsConfig(certificate_arn=arn))
    found_files, given_files = generate.generate(found, "t"), generate.generate(given, "t")
    assert found_files.keys() == given_files.keys()
    for name in found_files.keys() - {"manifest.json"}:
        assert found_files[name] == given_files[name], name
    for env in (found, given):
        (service,) = [s for s in generate.build(env, "t") if s.key == "environment"]
        assert service.parameters_from_certificate == ("CertificateArn",)
        assert "CertificateArn" not in service.parameters
    assert json.loads(given_files["manifest.json"])["certificate"]["arn"] == arn


def _generate_cli(env_file: Path, out: Path) -> None:
    subprocess.run(
        [sys.executable, "generate.py", "--env", str(env_file), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def test_manifest_tells_whether_the_environment_file_changed_since(tmp_path: Path) -> None:
    env_file = tmp_path / "local.toml"
    env_file.write_bytes((ROOT / "environments" / "local.toml").read_bytes())
    build = tmp_path / "build"
    _generate_cli(env_file, build)
    assert not stale_environment(manifests.load(build), env_file)

    edited = env_file.read_text().replace("max_count = 2", "max_count = 3")
    env_file.write_text(edited)
    assert stale_environment(manifests.load(build), env_file)  # edited, not regenerated

    _generate_cli(env_file, build)
    assert not stale_environment(manifests.load(build), env_file)

    # Touched without a change (a checkout, an editor's save): still what was generated, even
    # though generate.py left the byte-identical files alone and they are older than it.
    future = time.time() + 60
    os.utime(env_file, (future, future))
    _generate_cli(env_file, build)
    assert (build / "manifest.json").stat().st_mtime < env_file.stat().st_mtime
    assert not stale_environment(manifests.load(build), env_file)


def test_manifest_with_a_cdn_says_where_assets_go_and_where_the_url_comes_from() -> None:
    manifest = json.loads(generate.generate(load("production"), "abc123")["manifest.json"])
    assert [s["key"] for s in manifest["stacks"]] == [
        "network",
        "registry",
        "static",
        "environment",
        "svc-web",
    ]
    assert manifest["static_assets"] == {
        "stack": "static",
        "resource": "StaticAssetsBucket",
        "source": "service/static",
        "prefix": "abc123/",  # the same tag the service's STATIC_URL ends with
    }
    stacks = {s["key"]: s for s in manifest["stacks"]}
    static = json.loads(generate.generate(load("production"), "abc123")["static.json"])
    assert "StaticAssetsBucket" in static["Resources"]
    assert "AssetsBaseUrl" in static["Outputs"]
    assert stacks["static"]["parameters_from_stacks"] == {}
    service = stacks["svc-web"]
    assert service["parameters_from_stacks"]["StaticUrl"] == {
        "stack": "static",
        "output": "AssetsBaseUrl",
    }
    assert "static" in service["depends_on"]


def test_dependencies_come_before_their_dependents() -> None:
    for name in ("local", "production", "staging"):
        manifest = json.loads(generate.generate(load(name), "t")["manifest.json"])
        seen: set[str] = set()
        for stack in manifest["stacks"]:
            assert set(stack["depends_on"]) <= seen
            seen.add(stack["key"])


def test_image_tag_is_the_configured_one_else_the_revision_else_dev() -> None:
    env = load("production")
    assert env.image_tag is None
    assert generate.resolve_image_tag(env, "0123456789ab") == "0123456789ab"
    assert generate.resolve_image_tag(env, None) == generate.NO_GIT_TAG == "dev"
    pinned = replace(env, image_tag="v1.2.3")
    assert generate.resolve_image_tag(pinned, "0123456789ab") == "v1.2.3"


def test_git_revision_is_twelve_hex_digits_in_a_checkout_and_none_outside(tmp_path: Path) -> None:
    assert generate.git_revision(tmp_path) is None
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an exported tree)")
    revision = generate.git_revision(ROOT)
    assert revision is not None and len(revision) == 12


def test_lint_reports_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Nope": 1}}}})
    )
    templates = {broken: broken.read_text()}
    problems = generate.lint(templates, "us-east-1")
    assert problems and any("Nope" in p for p in problems)
    assert generate.lint(templates, "us-east-1") == problems  # a problem is never cached away


def test_lint_remembers_clean_templates_only_until_they_change(tmp_path: Path) -> None:
    template = tmp_path / "topic.json"
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}
    template.write_text(json.dumps({"Resources": {"Topic": topic}}))
    assert generate.lint({template: template.read_text()}, "us-east-1") == []
    assert (tmp_path / generate.LINT_CACHE).exists()

    topic["Properties"] = {"Nope": 1}  # same file name, new bytes: linted again
    template.write_text(json.dumps({"Resources": {"Topic": topic}}))
    assert any("Nope" in p for p in generate.lint({template: template.read_text()}, "us-east-1"))


def test_lint_lints_each_content_once_and_says_its_problems_of_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linted: list[list[str]] = []
    real = generate.cfn_lint_pool.lint

    def spy(paths: list[Path], region: str) -> list[tuple[str, str]]:
        linted.append([p.name for p in paths])
        return real(paths, region)

    monkeypatch.setattr(generate.cfn_lint_pool, "lint", spy)
    broken = json.dumps(
        {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"X": 1}}}}
    )
    clean = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    files = {"svc-a.json": broken, "svc-b.json": broken, "svc-c.json": clean}
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    problems = generate.lint({tmp_path / n: c for n, c in files.items()}, "us-east-1")
    assert linted == [["svc-a.json", "svc-c.json"]]  # one of each content
    # Each file with the broken content has its problem, at its own path and line.
    for name in ("svc-a.json", "svc-b.json"):
        assert [p for p in problems if f"{tmp_path / name}:" in p and "'X'" in p]
    assert not [p for p in problems if "svc-c.json" in p]

    # A new file whose content is known clean (a new service configured like another) is not
    # linted again.
    (tmp_path / "svc-d.json").write_text(clean)
    linted.clear()
    assert generate.lint({tmp_path / "svc-d.json": clean}, "us-east-1") == []
    assert linted == []


def test_cli_writes_the_build_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "generate.py", "--env", "staging", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ci.json",
        "environment.json",
        "manifest.json",
        "registry.json",
        "static.json",
        "svc-web.json",
    ]


def test_cli_stops_on_a_bad_environment_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text((ROOT / "environments" / "local.toml").read_text() + "\nsurprise = 1\n")
    result = subprocess.run(
        [sys.executable, "generate.py", "--env", str(bad), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "surprise" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["local", "production", "staging"])
def test_every_environment_generates(name: str) -> None:
    files = generate.generate(load(name), "t")
    assert "svc-web.json" in files and "registry.json" in files


def test_checkov_skips_are_few_in_metadata_and_carry_a_reason() -> None:
    skips = set()
    for name in ("local", "production", "staging"):
        for stack_file, content in generate.generate(load(name), "t").items():
            if stack_file == "manifest.json":
                continue
            for logical_id, resource in json.loads(content)["Resources"].items():
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                    assert len(skip["comment"]) > 40, (logical_id, skip)
                    skips.add((logical_id, skip["id"]))
    assert skips == {
        ("LoadBalancerSecurityGroup", "CKV_AWS_260"),  # public ALB: port 80 from anywhere
        ("AccessLogsBucket", "CKV_AWS_18"),  # the log bucket does not log into itself
        ("AccessLogsDeliveryBucket", "CKV_AWS_18"),  # nor the load balancer's delivery bucket
        ("StaticAssetsDistribution", "CKV_AWS_68"),  # no WAF in front of immutable files
        ("FlowLogGroup", "CKV_AWS_158"),  # flow records: metadata, CloudWatch's own key
        ("StaticAssetsDistribution", "CKV_AWS_86"),  # logging: ACLs or us-east-1 only
        # the ci roles' boundary caps by service (<service>:*); it grants nothing itself
        *(("CiBoundary", f"CKV_AWS_{n}") for n in (107, 108, 109, 110, 111)),
        # the CloudFormation role's creates that AWS lets name no resource ("*" only), in the
        # second or third of its policies as the split falls per environment
        ("CloudFormationPolicy2", "CKV_AWS_111"),
        ("CloudFormationPolicy3", "CKV_AWS_111"),
    }


def test_write_removes_a_stack_that_is_gone_and_nothing_else(tmp_path: Path) -> None:
    generate.write(tmp_path, generate.generate(load("local"), "t"))
    (tmp_path / "notes.json").write_text("{}")
    # staging has no network stack and no api service: both templates go.
    generate.write(tmp_path, generate.generate(load("staging"), "t"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ci.json",
        "environment.json",
        "manifest.json",
        "notes.json",
        "registry.json",
        "static.json",
        "svc-web.json",
    ]


def test_write_removes_the_ci_template_once_the_environment_has_no_ci(tmp_path: Path) -> None:
    env = load("staging")
    generate.write(tmp_path, generate.generate(env, "t"))
    generate.write(tmp_path, generate.generate(replace(env, ci=None), "t"))
    assert "ci.json" not in {p.name for p in tmp_path.iterdir()}
