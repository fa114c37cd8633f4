"""Every shipped environment loads; each kind of bad input stops with file, field and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import environments
from environments import ConfigError, CreateVpc, ExistingVpc

PRODUCTION = environments.path_of("production").read_text()
STAGING = environments.path_of("staging").read_text()


def write(tmp_path: Path, text: str, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        environments.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


@pytest.mark.parametrize("name", environments.available())
def test_every_shipped_environment_loads(name: str) -> None:
    env = environments.load(name)
    assert env.name == name
    assert env.services[0].min_count <= env.services[0].max_count


def test_production_is_the_worked_example() -> None:
    env = environments.load("production")
    assert env.dns.domain_name == "app.example.com"
    assert env.dns.hosted_zone_name == "example.com."
    assert (env.services[0].cpu, env.services[0].memory) == (512, 1024)
    assert env.termination_protection is True
    assert env.static_assets.cdn is True
    assert env.tls.certificate_arn is None  # the template creates and DNS-validates one
    assert env.tls.create_certificate and not env.tls.find_certificate
    assert isinstance(env.network, CreateVpc)
    assert env.network.subnet_cidrs == ("10.20.0.0/19", "10.20.32.0/19")
    assert env.pagerduty.ssm_parameter == "/scalable-app/production/pagerduty-url"
    assert not re.search(r"https?://", PRODUCTION.split("[pagerduty]")[1].split("[")[0])


def test_local_environment_targets_the_emulator_region_without_protection() -> None:
    env = environments.load("local")
    assert env.termination_protection is False
    assert env.region == "us-east-1"
    assert env.static_assets.cdn is False  # moto does not emulate CloudFront
    # The certificate local_aws.py imports is found by its domain, as an account's own would be.
    assert env.tls.find_certificate and env.tls.certificate_arn is None
    assert not env.tls.create_certificate


def test_staging_brings_its_vpc() -> None:
    env = environments.load("staging")
    assert isinstance(env.network, ExistingVpc)
    assert [s.availability_zone for s in env.network.subnets] == ["eu-west-1a", "eu-west-1b"]
    assert env.pagerduty.env_var == "PAGERDUTY_URL"


def test_unknown_key_names_it_and_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, PRODUCTION.replace("min_count = 2", "min_cuont = 2"))
    error = error_of(path)
    assert error.field == "services.web.min_cuont"
    assert 'unknown key; did you mean "min_count"?' in str(error)


def test_unknown_top_level_table(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION + '\n[databse]\nengine = "postgres"\n'))
    assert error.field == "databse"
    assert "unknown key" in error.message


def test_wrong_type(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("min_count = 2", 'min_count = "two"')))
    assert str(error).endswith(
        'services.web.min_count: expected an integer from 1 to 100, got "two"'
    )


def test_missing_required_field(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace('region = "eu-west-1"\n', "")))
    assert error.field == "region"
    assert error.message == "missing; expected an AWS region such as eu-west-1"


def test_missing_required_table(tmp_path: Path) -> None:
    text = PRODUCTION.replace(
        '[dns]\nhosted_zone = "example.com"\ndomain = "app.example.com"\n', ""
    )
    error = error_of(write(tmp_path, text))
    assert error.field == "dns"
    assert "missing; expected a [dns] table" in str(error)


def test_cidr_that_does_not_parse(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("10.20.0.0/16", "10.20.0.300/16")))
    assert error.field == "network.cidr"
    assert 'expected an IPv4 CIDR block such as 10.0.0.0/16, got "10.20.0.300/16"' in error.message


def test_cidr_too_large_for_a_vpc(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("10.20.0.0/16", "10.0.0.0/8")))
    assert "expected a prefix from /16 to /24" in error.message


def test_certificate_arn_that_does_not_parse(tmp_path: Path) -> None:
    error = error_of(
        write(
            tmp_path,
            STAGING.replace("arn:aws:acm:eu-west-1:123456789012", "arn:aws:acm:eu-west-1:1234"),
        )
    )
    assert error.field == "tls.certificate_arn"
    assert "expected an ACM certificate ARN" in error.message


def test_certificate_from_another_region(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, STAGING.replace("acm:eu-west-1", "acm:us-east-1")))
    assert error.field == "tls.certificate_arn"
    assert "needs one from eu-west-1" in error.message


LOCAL = environments.path_of("local").read_text()


def test_certificate_found_by_domain_and_given_at_once(tmp_path: Path) -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    text = LOCAL.replace(
        "find_certificate = true", f'find_certificate = true\ncertificate_arn = "{arn}"'
    )
    error = error_of(write(tmp_path, text))
    assert error.field == "tls"
    assert error.message == (
        "the HTTPS certificate: set one of tls.certificate_arn, tls.create_certificate or "
        "tls.find_certificate (tls.certificate_arn and tls.find_certificate are set)"
    )


def test_certificate_source_missing(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, LOCAL.replace("find_certificate = true", "")))
    assert error.field == "tls"
    assert "set one of tls.certificate_arn, tls.create_certificate or tls.find_certificate" in (
        error.message
    )
    assert error.message.endswith("(none is set)")


def test_find_certificate_false_says_what_to_set_instead(tmp_path: Path) -> None:
    error = error_of(
        write(tmp_path, LOCAL.replace("find_certificate = true", "find_certificate = false"))
    )
    assert error.field == "tls.find_certificate"
    assert error.message == (
        "expected true, or give certificate_arn or create_certificate = true instead"
    )


def test_find_certificate_must_be_a_boolean(tmp_path: Path) -> None:
    error = error_of(
        write(tmp_path, LOCAL.replace("find_certificate = true", 'find_certificate = "yes"'))
    )
    assert error.field == "tls.find_certificate"
    assert error.message == 'expected true or false, got "yes"'


def test_bytes_that_are_not_utf8_name_the_offset_and_the_fix(tmp_path: Path) -> None:
    text = PRODUCTION.replace('team = "platform"', 'team = "plat\u00e9form"')
    path = tmp_path / "latin.toml"
    path.write_bytes(text.encode("latin-1"))  # as an editor set to Latin-1 saves it
    offset = text.encode("latin-1").index(b"\xe9")
    error = error_of(path)
    assert error.field == "encoding"
    line = text[: text.index("\u00e9")].count("\n") + 1
    assert error.message.startswith(f"byte {offset} (line {line}) is 0xe9, not UTF-8")
    assert "save the file as UTF-8" in error.message


def test_fewer_than_two_subnets(tmp_path: Path) -> None:
    text = STAGING.replace(
        '  { id = "subnet-0fedcba9876543210", availability_zone = "eu-west-1b" },\n', ""
    )
    error = error_of(write(tmp_path, text))
    assert error.field == "network.subnets"
    assert "at least two subnets in two different availability zones" in error.message
    assert "got 1 in 1" in error.message


def test_two_subnets_in_one_zone(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, STAGING.replace('"eu-west-1b"', '"eu-west-1a"')))
    assert error.message.endswith("got 2 in 1")


def test_subnet_id_that_does_not_parse(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, STAGING.replace("subnet-0fedcba9876543210", "subnet-xyz")))
    assert error.field == "network.subnets[1].id"


def test_vpc_created_and_brought_at_once(tmp_path: Path) -> None:
    text = STAGING.replace('vpc_id = "', 'cidr = "10.0.0.0/16"\nvpc_id = "')
    error = error_of(write(tmp_path, text))
    assert "set network.cidr or network.vpc_id (both are set)" in error.message


def test_desired_count_is_refused_with_what_replaces_it(tmp_path: Path) -> None:
    """Application Auto Scaling owns the task count: a DesiredCount in the template would
    reset it on every deploy."""
    text = PRODUCTION.replace("min_count = 2", "desired_count = 2\nmin_count = 2")
    error = error_of(write(tmp_path, text))
    assert error.field == "services.web.desired_count"
    assert "between min_count and max_count" in error.message
    assert "remove it" in error.message


def test_min_count_above_max_count(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("min_count = 2", "min_count = 9")))
    assert error.field == "services.web.max_count"
    assert "min_count <= max_count, got 9 > 6" in error.message


def test_memory_fargate_cannot_give_that_cpu(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("memory = 1024", "memory = 512")))
    assert error.field == "services.web.memory"
    assert "Fargate with cpu = 512 takes 1024 to 4096 MiB" in error.message


def test_log_retention_cloudwatch_does_not_offer(tmp_path: Path) -> None:
    error = error_of(
        write(tmp_path, PRODUCTION.replace("retention_days = 90", "retention_days = 100"))
    )
    assert error.field == "logs.retention_days"


def test_domain_outside_the_hosted_zone(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("app.example.com", "app.example.org")))
    assert error.field == "dns.domain"


def test_latest_is_not_an_image_tag(tmp_path: Path) -> None:
    text = PRODUCTION.replace(
        'app = "scalable-app"\n', 'app = "scalable-app"\nimage_tag = "latest"\n'
    )
    assert error_of(write(tmp_path, text)).field == "image_tag"


def test_pagerduty_url_itself_is_refused(tmp_path: Path) -> None:
    text = PRODUCTION.replace(
        'url_ssm_parameter = "/scalable-app/production/pagerduty-url"',
        'url_ssm_parameter = "https://events.pagerduty.com/integration/abc/enqueue"',
    )
    error = error_of(write(tmp_path, text))
    assert error.field == "pagerduty.url_ssm_parameter"
    assert "expected an SSM parameter name" in error.message


def test_toml_syntax_error(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace("[services.web]", "[services.web")))
    assert error.field == "syntax"


def test_missing_file_lists_the_known_environments() -> None:
    with pytest.raises(ConfigError) as caught:
        environments.load("prodution")
    assert "known environments: local, production, staging" in str(caught.value)


# ---- placement, the CDN's name and certificate, tamper-resistant logs (issue 11) ----------


def test_production_runs_its_tasks_privately_through_endpoints() -> None:
    network = environments.load("production").network
    assert isinstance(network, CreateVpc)
    assert network.placement.private and network.placement.through_endpoints
    public, private = set(network.subnet_cidrs), set(network.private_subnet_cidrs)
    assert len(public | private) == 4  # four distinct subnets


def test_private_placement_is_the_default(tmp_path: Path) -> None:
    text = PRODUCTION.replace('placement = "private"\negress = "endpoints"\n', "")
    env = environments.load(write(tmp_path, text, "defaults"))
    assert env.network.placement.private and env.network.placement.through_endpoints


def test_local_places_its_tasks_public() -> None:
    placement = environments.load("local").network.placement
    assert not placement.private and placement.egress is None


def test_staging_names_its_private_subnets_and_its_endpoints_group() -> None:
    network = environments.load("staging").network
    assert isinstance(network, ExistingVpc)
    assert [s.id for s in network.task_subnets] == [
        "subnet-0aaaaaaaaaaaaaaa1",
        "subnet-0bbbbbbbbbbbbbbb2",
    ]
    assert network.endpoint_security_group == "sg-0123456789abcdef0"


def test_egress_with_public_placement_is_refused(tmp_path: Path) -> None:
    text = PRODUCTION.replace('placement = "private"', 'placement = "public"')
    error = error_of(write(tmp_path, text))
    assert error.field == "network.egress"
    assert 'only applies with placement = "private"; remove it' in error.message


def test_unknown_placement(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace('"private"', '"hidden"')))
    assert error.field == "network.placement"
    assert '"private" (tasks in private subnets) or "public"' in error.message


def test_nat_egress_is_read(tmp_path: Path) -> None:
    env = environments.load(
        write(tmp_path, PRODUCTION.replace('egress = "endpoints"', 'egress = "nat"'), "nat")
    )
    assert env.network.placement.egress == "nat"


def test_any_region_with_endpoints_loads_and_a_prefix_list_id_is_refused(tmp_path: Path) -> None:
    """The S3 prefix list is read at deploy time (ec2:DescribePrefixLists), in every region:
    none is written in the environment."""
    text = PRODUCTION.replace('region = "eu-west-1"', 'region = "eu-north-1"')
    assert environments.load(write(tmp_path, text, "north")).network.placement.through_endpoints
    given = text.replace(
        'egress = "endpoints"', 'egress = "endpoints"\ns3_prefix_list_id = "pl-c3aa4faa"'
    )
    error = error_of(write(tmp_path, given, "given"))
    assert error.field == "network.s3_prefix_list_id"


def test_brought_vpc_with_private_placement_needs_private_subnets(tmp_path: Path) -> None:
    start = STAGING.index("private_subnets = [")
    end = STAGING.index("]\n", start) + 2
    error = error_of(write(tmp_path, STAGING[:start] + STAGING[end:]))
    assert error.field == "network.private_subnets"
    assert "at least two, in two availability zones" in error.message


def test_private_subnets_must_differ_from_the_load_balancers(tmp_path: Path) -> None:
    text = STAGING.replace("subnet-0aaaaaaaaaaaaaaa1", "subnet-0123456789abcdef0")
    error = error_of(write(tmp_path, text))
    assert error.field == "network.private_subnets"
    assert "subnet-0123456789abcdef0 also in subnets" in error.message


def test_brought_vpc_through_endpoints_names_their_security_group(tmp_path: Path) -> None:
    text = STAGING.replace('endpoint_security_group = "sg-0123456789abcdef0"\n', "")
    error = error_of(write(tmp_path, text))
    assert error.field == "network.endpoint_security_group"
    assert 'egress = "nat"' in error.message  # the other way out, if the VPC has a NAT


def test_cdn_certificate_outside_us_east_1_is_refused(tmp_path: Path) -> None:
    text = PRODUCTION.replace("arn:aws:acm:us-east-1:", "arn:aws:acm:eu-west-1:")
    error = error_of(write(tmp_path, text))
    assert error.field == "static_assets.certificate_arn"
    assert "CloudFront takes certificates from us-east-1 only" in error.message


def test_cdn_certificate_created_only_by_a_us_east_1_stack(tmp_path: Path) -> None:
    line = next(line for line in PRODUCTION.splitlines() if line.startswith("certificate_arn"))
    text = PRODUCTION.replace(line, "create_certificate = true")
    error = error_of(write(tmp_path, text))
    assert error.field == "static_assets.create_certificate"
    assert "give its ARN as certificate_arn" in error.message
    east = text.replace('region = "eu-west-1"', 'region = "us-east-1"')
    config = environments.load(write(tmp_path, east, "east")).static_assets
    assert config.certificate_arn is None and config.domain_name == "assets.app.example.com"


def test_cdn_without_a_certificate_says_which_to_give(tmp_path: Path) -> None:
    line = next(line for line in PRODUCTION.splitlines() if line.startswith("certificate_arn"))
    error = error_of(write(tmp_path, PRODUCTION.replace(line, "")))
    assert error.field == "static_assets"
    assert "static_assets.certificate_arn or static_assets.create_certificate" in error.message


def test_cdn_domain_outside_the_hosted_zone(tmp_path: Path) -> None:
    text = STAGING.replace('domain = "assets.staging.example.com"', 'domain = "assets.other.org"')
    error = error_of(write(tmp_path, text))
    assert error.field == "static_assets.domain"


def test_object_lock_defaults_to_governance_for_the_log_retention(tmp_path: Path) -> None:
    text = PRODUCTION.replace('object_lock = "governance"\nobject_lock_days = 90\n', "")
    logs = environments.load(write(tmp_path, text, "defaults")).logs
    assert (logs.object_lock_mode, logs.object_lock_days) == ("GOVERNANCE", logs.retention_days)
    assert environments.load("staging").logs.object_lock_mode == "COMPLIANCE"


def test_unknown_object_lock_mode(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, PRODUCTION.replace('"governance"', '"legal-hold"')))
    assert error.field == "logs.object_lock"
    assert '"compliance" (nobody may' in error.message


def test_an_unknown_region_is_refused_by_the_loader_not_by_cfn_lint(tmp_path: Path) -> None:
    """us-east-9 has a region's shape; before the loader knew botocore's list it reached
    cfn-lint, whose InvalidRegionException was a traceback."""
    text = re.sub(r'(?m)^region = ".*"$', 'region = "us-east-9"', PRODUCTION)
    error = error_of(write(tmp_path, text))
    assert "region: us-east-9 is not a region" in str(error)
    assert "eu-west-1" in str(error)  # the fix: a region that exists


def test_every_partitions_regions_are_known() -> None:
    known = environments.loader.known_regions()
    assert {"eu-west-1", "us-gov-west-1", "cn-north-1"} <= known


def test_known_regions_are_the_sessions_cloudformation_regions() -> None:
    """The loader reads botocore's endpoint data without a session (speed); the answer is the
    session's, for CloudFormation in every partition."""
    import botocore.session

    session = botocore.session.get_session()
    assert environments.loader.known_regions() == {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("cloudformation", partition)
    }
