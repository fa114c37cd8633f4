"""[services.<name>.deployment] (issue 19): the strategy and its timings, each refusal naming the
file, the field and the fix; the test rule's priority and the load balancer's quotas."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from test_environments import error_of
from test_environments_services import service, write

import cfn_schemas
import environments
from environments import deployment as dep
from environments.model import CANARY, LINEAR, ROLLING, Route
from environments.services import BAND, default_priority, priority_of_test_rule


def deployed(name: str, table: str, **fields: object) -> str:
    """A service with a [services.<name>.deployment] table of `table` (TOML lines)."""
    return service(name, **fields) + f"\n[services.{name}.deployment]\n{table}\n"


def test_a_canary_loads_with_its_timings(tmp_path: Path) -> None:
    env = environments.load(
        write(
            tmp_path,
            deployed(
                "web",
                'strategy = "canary"\ncanary_percent = 10\ncanary_bake_minutes = 5\n'
                "bake_time_minutes = 20\npause_timeout_minutes = 45",
            ),
        )
    )
    config = env.services[0].deployment
    assert (config.strategy, config.progressive) == (CANARY, True)
    assert (config.canary_percent, config.canary_bake_minutes) == (10.0, 5)
    assert (config.bake_time_minutes, config.pause_timeout_minutes) == (20, 45)
    assert config.linear_step_percent is None


def test_left_out_timings_are_ecs_defaults_and_no_table_is_rolling(tmp_path: Path) -> None:
    env = environments.load(
        write(tmp_path, deployed("web", 'strategy = "linear"') + service("api", path="/api"))
    )
    linear, rolling = (s.deployment for s in env.services)
    assert (linear.strategy, linear.linear_step_percent, linear.linear_step_bake_minutes) == (
        LINEAR,
        10.0,
        6,
    )
    assert (linear.bake_time_minutes, linear.pause_timeout_minutes) == (15, 30)
    assert (rolling.strategy, rolling.progressive) == (ROLLING, False)


def test_an_unknown_strategy_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, deployed("web", 'strategy = "bluegreen"')))
    assert error.field == "services.web.deployment.strategy"
    assert '"rolling" or "blue_green" or "canary" or "linear"' in error.message


@pytest.mark.parametrize(
    ("strategy", "key", "value", "only"),
    [
        ("linear", "canary_percent", "5", "canary"),
        ("blue_green", "canary_bake_minutes", "5", "canary"),
        ("canary", "linear_step_percent", "10", "linear"),
        ("blue_green", "linear_step_bake_minutes", "5", "linear"),
    ],
)
def test_fields_of_another_strategy_are_refused(
    tmp_path: Path, strategy: str, key: str, value: str, only: str
) -> None:
    table = f'strategy = "{strategy}"\n{key} = {value}'
    error = error_of(write(tmp_path, deployed("web", table)))
    assert error.field == f"services.web.deployment.{key}"
    assert f'strategy = "{strategy}" does not use it' in error.message
    assert f'strategy = "{only}" only' in error.message and "remove it" in error.message


@pytest.mark.parametrize(
    "key",
    ["canary_percent", "linear_step_bake_minutes", "bake_time_minutes", "pause_timeout_minutes"],
)
def test_progressive_fields_on_a_rolling_service_are_refused(tmp_path: Path, key: str) -> None:
    error = error_of(write(tmp_path, deployed("web", f'strategy = "rolling"\n{key} = 5')))
    assert error.field == f"services.web.deployment.{key}"
    assert 'strategy = "rolling" does not use it' in error.message


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('strategy = "canary"\ncanary_percent = 0.05', "canary_percent", "from 0.1 to 100"),
        ('strategy = "canary"\ncanary_percent = 5.05', "canary_percent", "multiple of 0.1"),
        ('strategy = "linear"\nlinear_step_percent = 2.5', "linear_step_percent", "from 3 to 100"),
        ('strategy = "canary"\ncanary_bake_minutes = 1441', "canary_bake_minutes", "0 to 1440"),
        ('strategy = "blue_green"\nbake_time_minutes = -1', "bake_time_minutes", "0 to 1440"),
        ('strategy = "canary"\npause_timeout_minutes = 0', "pause_timeout_minutes", "1 to 20160"),
    ],
)
def test_values_cloudformation_rejects_are_refused(
    tmp_path: Path, table: str, key: str, expected: str
) -> None:
    error = error_of(write(tmp_path, deployed("web", table)))
    assert error.field == f"services.web.deployment.{key}"
    assert expected in error.message


def test_the_ranges_are_the_resource_schemas() -> None:
    """The constants the loader checks against are AWS::ECS::Service's, as cfn-lint ships it."""
    schema = cfn_schemas.document("AWS::ECS::Service")
    assert schema is not None
    defs = schema["definitions"]

    def bounds(definition: str, prop: str) -> tuple[float, float]:
        found = defs[definition]["properties"][prop]
        return (found["minimum"], found["maximum"])

    assert bounds("DeploymentConfiguration", "BakeTimeInMinutes") == dep.BAKE_MINUTES
    assert bounds("CanaryConfiguration", "CanaryBakeTimeInMinutes") == dep.BAKE_MINUTES
    assert bounds("LinearConfiguration", "StepBakeTimeInMinutes") == dep.BAKE_MINUTES
    assert bounds("CanaryConfiguration", "CanaryPercent") == dep.CANARY_PERCENT
    assert bounds("LinearConfiguration", "StepPercent") == dep.STEP_PERCENT
    assert bounds("HookTimeoutConfig", "TimeoutInMinutes") == dep.HOOK_TIMEOUT_MINUTES
    assert defs["CanaryConfiguration"]["properties"]["CanaryPercent"]["multipleOf"] == 0.1
    for definition in ("CanaryConfiguration", "LinearConfiguration"):
        assert "exceeds 33 hours" in defs[definition]["description"]
    assert schema["handlers"]["update"]["timeoutInMinutes"] == dep.CLOUDFORMATION_TIMEOUT_MINUTES


def test_a_canary_longer_than_33_hours_is_refused(tmp_path: Path) -> None:
    table = 'strategy = "canary"\nbake_time_minutes = 1000\ncanary_bake_minutes = 981'
    error = error_of(write(tmp_path, deployed("web", table)))
    assert error.field == "services.web.deployment.canary_bake_minutes"
    assert "1000 + 981 = 1981 minutes" in error.message and "33 hours" in error.message
    exactly = 'strategy = "canary"\nbake_time_minutes = 1000\ncanary_bake_minutes = 980'
    assert environments.load(write(tmp_path, deployed("web", exactly)))


@pytest.mark.parametrize(("step", "steps"), [(10, 9), (11, 9), (50, 1), (3, 33), (33.3, 3)])
def test_linear_steps_are_counted_as_cloudformation_documents(step: float, steps: int) -> None:
    assert dep.linear_steps(step) == steps


def test_a_linear_deployment_longer_than_33_hours_is_refused(tmp_path: Path) -> None:
    # 10 % steps: 9 counted steps; 9 x 220 = 1980 fits, 9 x 221 = 1989 does not.
    table = 'strategy = "linear"\nbake_time_minutes = 0\nlinear_step_bake_minutes = {}'
    assert environments.load(write(tmp_path, deployed("web", table.format(220))))
    error = error_of(write(tmp_path, deployed("web", table.format(221))))
    assert error.field == "services.web.deployment.linear_step_bake_minutes"
    assert "0 + 221 x 9 steps = 1989 minutes" in error.message
    assert "larger steps" in error.message


def test_a_pause_that_outlasts_cloudformations_timeout_is_refused(tmp_path: Path) -> None:
    table = 'strategy = "canary"\nbake_time_minutes = 1000\ncanary_bake_minutes = 900\n'
    error = error_of(write(tmp_path, deployed("web", table + "pause_timeout_minutes = 300")))
    assert error.field == "services.web.deployment.pause_timeout_minutes"
    assert "use at most 260" in error.message


# ---- the test rule's priority ----
def test_the_test_rule_comes_just_before_its_production_rule_in_its_band(tmp_path: Path) -> None:
    env = environments.load(
        write(
            tmp_path,
            deployed("web", 'strategy = "canary"')
            + deployed("api", 'strategy = "blue_green"', path="/api")
            + service("v2", path="/api/v2"),
        )
    )
    web, api, v2 = env.services
    assert priority_of_test_rule(web) == web.priority - 1
    # In the band of its own route: after the more specific routes of every other service.
    assert (priority_of_test_rule(web) - 1) // BAND == (web.priority - 1) // BAND
    order = [v2.priority, priority_of_test_rule(api), api.priority]
    order += [priority_of_test_rule(web), web.priority]
    assert order == sorted(order) and len(set(order)) == 5
    # Making web progressive changed no other service's priority.
    rolling = environments.load(
        write(
            tmp_path, service("web") + service("api", path="/api") + service("v2", path="/api/v2")
        )
    )
    assert [s.priority for s in rolling.services] == [s.priority for s in env.services]


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
def test_no_test_rule_precedes_a_more_specific_route_for_any_name(depth: int) -> None:
    """Over many names: a test rule of a route of this depth stays in its band, so it is
    evaluated after every rule of a deeper path (a lower band), whatever the names hash to."""
    path = "/a" * depth or None
    deeper = Route("h.example.com", "/a" * (depth + 1)) if depth < 4 else None
    for i in range(2000):
        own = default_priority(f"s{i}", Route("h.example.com", path))
        if (own - 1) % BAND == 0:
            continue  # the first of its band: refused at load (next test)
        test = own - 1
        assert (test - 1) // BAND == (own - 1) // BAND
        if deeper is not None:
            assert default_priority(f"t{i}", deeper) < test


def test_a_progressive_name_hashing_to_the_first_of_its_band_is_refused(tmp_path: Path) -> None:
    name = next(
        f"n{i}"
        for i in itertools.count()
        if (default_priority(f"n{i}", Route("local.example.com")) - 1) % BAND == 0
    )
    error = error_of(write(tmp_path, deployed(name, 'strategy = "canary"')))
    assert error.field == f"services.{name}.priority"
    assert "no number before it for the test rule" in error.message
    assert "from 40002 to 50000" in error.message
    # As a rolling service it loads at that priority.
    assert environments.load(write(tmp_path, service(name))).services[0].priority == 40001


def test_a_test_rule_on_another_services_priority_names_the_progressive_service(
    tmp_path: Path,
) -> None:
    host = Route("local.example.com")
    by_priority = {default_priority(f"p{i}", host): f"p{i}" for i in range(3000)}
    rolling, progressive = next(
        (by_priority[number - 1], name)
        for number, name in by_priority.items()
        if number - 1 in by_priority
    )
    routes = deployed(progressive, 'strategy = "canary"', host=f"{progressive}.example.com")
    for order in (service(rolling) + routes, routes + service(rolling)):
        error = error_of(write(tmp_path, order))
        assert error.field == f"services.{progressive}.priority"
        assert "(test rule)" in error.message and f"services.{rolling}'s" in error.message


# ---- the load balancer's quotas ----
def test_progressive_services_count_two_rules_and_two_target_groups(tmp_path: Path) -> None:
    def many(progressive: int, rolling: int) -> str:
        return "".join(
            deployed(f"p{i}", 'strategy = "canary"', path=f"/p{i}", priority=30002 + i * 2)
            for i in range(progressive)
        ) + "".join(service(f"r{i}", path=f"/r{i}", priority=31001 + i) for i in range(rolling))

    assert len(environments.load(write(tmp_path, many(50, 0))).services) == 50
    assert len(environments.load(write(tmp_path, many(40, 20))).services) == 60
    error = error_of(write(tmp_path, many(41, 19)))
    assert error.field == "services"
    assert "60 services take 101 listener rules and 101 target groups" in error.message
    assert "p0, p1" in error.message and "p40" in error.message
    assert 'strategy = "rolling"' in error.message and "1 of them" in error.message
