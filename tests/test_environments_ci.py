"""The [ci] table: absent means no ci stack; each bad value names its field and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import environments
from environments import ConfigError

LOCAL = environments.path_of("local").read_text()
CI = """
[ci]
github_repository = "example-org/scalable-app"
account_id = "123456789012"
"""


def load_with(tmp_path: Path, ci: str) -> environments.Environment:
    path = tmp_path / "ci-test.toml"
    path.write_text(LOCAL + ci)
    return environments.load(path)


def test_an_environment_without_ci_has_none() -> None:
    assert environments.load("local").ci is None


def test_ci_reads_the_repository_the_account_and_an_optional_provider(tmp_path: Path) -> None:
    ci = load_with(tmp_path, CI).ci
    assert ci == environments.CiConfig("example-org/scalable-app", "123456789012", None)


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ('github_repository = "scalable-app"', "ci.github_repository", '"owner/name"'),
        ('account_id = "1234"', "ci.account_id", "12-digit"),
        (
            'oidc_provider_arn = "arn:aws:iam::999999999999:oidc-provider/'
            'token.actions.githubusercontent.com"',
            "ci.oidc_provider_arn",
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        ),
        ('branch = "main"', "ci.branch", "unknown"),
        ('pull_request_plans = "yes"', "ci.pull_request_plans", "true or false"),
    ],
)
def test_a_bad_ci_value_names_its_field_and_the_fix(
    tmp_path: Path, line: str, field: str, says: str
) -> None:
    key = line.split(" = ")[0]
    text = re.sub(rf"^{key} = .*$", line, CI, flags=re.M) if key in CI else CI + line + "\n"
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, text)
    assert field in str(caught.value)
    assert says in str(caught.value)


def test_pull_request_plans_are_off_unless_asked_for(tmp_path: Path) -> None:
    ci = load_with(tmp_path, CI).ci
    assert ci is not None and not ci.pull_request_plans
    asked = load_with(tmp_path, CI + "pull_request_plans = true\n").ci
    assert asked is not None and asked.pull_request_plans


def test_a_ci_table_without_the_repository_says_it_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ci\.github_repository.*missing"):
        load_with(tmp_path, '\n[ci]\naccount_id = "123456789012"\n')
