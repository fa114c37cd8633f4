"""`[services.<name>.deployment]`: how a new version of a service takes production traffic.

- `strategy = "rolling"` (the default): ECS replaces the tasks; they take traffic as soon as the
  target group calls them healthy. No other key applies.
- `"blue_green"`, `"canary"`, `"linear"`: ECS starts the new revision beside the old one behind
  a second target group, sends it the test traffic first (a header on the service's own route,
  templates/progressive.py), pauses for the deployer's checks (`pause_timeout_minutes`, then
  ECS rolls back by itself), shifts production traffic (all at once; `canary_percent` for
  `canary_bake_minutes` then the rest; or `linear_step_percent` every
  `linear_step_bake_minutes`), and keeps the old revision ready for `bake_time_minutes`.

The ranges are CloudFormation's: AWS::ECS::Service's resource schema as cfn-lint ships it
(tests/test_environments_deployment.py reads them back from it), so a value CloudFormation
would reject stops here, with the field and the fix, not an hour into a deploy.
"""

from __future__ import annotations

import math
from dataclasses import replace

from environments.model import CANARY, LINEAR, ROLLING, STRATEGIES, DeploymentConfig
from environments.reader import Table

# DeploymentConfiguration.BakeTimeInMinutes, CanaryConfiguration.CanaryBakeTimeInMinutes and
# LinearConfiguration.StepBakeTimeInMinutes: 0 to 1440 minutes.
BAKE_MINUTES = (0, 1440)
# CanaryConfiguration.CanaryPercent: 0.1 to 100, a multiple of 0.1.
CANARY_PERCENT = (0.1, 100.0)
# LinearConfiguration.StepPercent: 3 to 100, a multiple of 0.1.
STEP_PERCENT = (3.0, 100.0)
# DeploymentLifecycleHook.TimeoutConfiguration.TimeoutInMinutes: 1 to 20160.
HOOK_TIMEOUT_MINUTES = (1, 20160)
# CanaryConfiguration's and LinearConfiguration's descriptions: CloudFormation rejects a canary
# or linear deployment whose BakeTimeInMinutes + CanaryBakeTimeInMinutes (or + StepBakeTimeIn-
# Minutes x steps) exceeds 33 hours, as its operations time out after 36 hours.
CLOUDFORMATION_REJECTS_ABOVE_MINUTES = 33 * 60
# The schema's handlers.update.timeoutInMinutes: past it CloudFormation gives up on the update
# and rolls it back, whatever the deployment is doing (a pause waiting for an answer included).
CLOUDFORMATION_TIMEOUT_MINUTES = 36 * 60

# ECS's defaults (the schema's descriptions), used when the file leaves a key out.
DEFAULT_BAKE_MINUTES = 15
DEFAULT_CANARY = (5.0, 10)
DEFAULT_LINEAR = (10.0, 6)
DEFAULT_PAUSE_TIMEOUT_MINUTES = 30

CANARY_KEYS = ("canary_percent", "canary_bake_minutes")
LINEAR_KEYS = ("linear_step_percent", "linear_step_bake_minutes")
PROGRESSIVE_KEYS = ("bake_time_minutes", "pause_timeout_minutes")


def deployment(table: Table) -> DeploymentConfig:
    """The service's `deployment` table (a rolling update when there is none)."""
    if not table.data:
        return DeploymentConfig()
    strategy = table.string(
        "strategy",
        " or ".join(f'"{name}"' for name in STRATEGIES),
        default=ROLLING,
        check=lambda value: value in STRATEGIES,
    )
    if strategy == ROLLING:
        _refuse(table, (*PROGRESSIVE_KEYS, *CANARY_KEYS, *LINEAR_KEYS), 'strategy = "rolling"')
        table.finish()
        return DeploymentConfig()
    if strategy != CANARY:
        _refuse(table, CANARY_KEYS, f'strategy = "{strategy}"', only=f'strategy = "{CANARY}"')
    if strategy != LINEAR:
        _refuse(table, LINEAR_KEYS, f'strategy = "{strategy}"', only=f'strategy = "{LINEAR}"')
    bake = table.integer("bake_time_minutes", *BAKE_MINUTES, default=DEFAULT_BAKE_MINUTES)
    config = DeploymentConfig(strategy=strategy, bake_time_minutes=bake)
    if strategy == CANARY:
        config = _canary(table, config)
    elif strategy == LINEAR:
        config = _linear(table, config)
    config = _pause(table, config)
    table.finish()
    return config


def _refuse(table: Table, keys: tuple[str, ...], given: str, only: str | None = None) -> None:
    for key in keys:
        if table.has(key):
            applies = f"it applies with {only} only" if only else "it applies to progressive ones"
            raise table.error(
                key,
                f"{given} does not use it ({applies}): remove it, or choose that strategy",
            )


def _percent(table: Table, key: str, bounds: tuple[float, float], default: float) -> float:
    value = table.number(key, *bounds, default=default)
    if not math.isclose(value * 10, round(value * 10), abs_tol=1e-9):
        raise table.error(
            key, f"expected a multiple of 0.1 (CloudFormation's), got {value:g}: round it"
        )
    return round(value, 1)


def _canary(table: Table, config: DeploymentConfig) -> DeploymentConfig:
    percent = _percent(table, "canary_percent", CANARY_PERCENT, DEFAULT_CANARY[0])
    bake = table.integer("canary_bake_minutes", *BAKE_MINUTES, default=DEFAULT_CANARY[1])
    _within_33_hours(table, "canary_bake_minutes", config.bake_time_minutes, bake, 1)
    return replace(config, canary_percent=percent, canary_bake_minutes=bake)


def linear_steps(step_percent: float) -> int:
    """The steps CloudFormation counts for the 33-hour rule: 100 / step - 1 when the step divides
    100 evenly, else its floor (no bake after the shift that reaches 100 %)."""
    tenths = round(step_percent * 10)
    return 1000 // tenths - 1 if 1000 % tenths == 0 else 1000 // tenths


def _linear(table: Table, config: DeploymentConfig) -> DeploymentConfig:
    percent = _percent(table, "linear_step_percent", STEP_PERCENT, DEFAULT_LINEAR[0])
    bake = table.integer("linear_step_bake_minutes", *BAKE_MINUTES, default=DEFAULT_LINEAR[1])
    steps = linear_steps(percent)
    _within_33_hours(table, "linear_step_bake_minutes", config.bake_time_minutes, bake, steps)
    return replace(config, linear_step_percent=percent, linear_step_bake_minutes=bake)


def shift_minutes(config: DeploymentConfig) -> int:
    """What CloudFormation counts of the deployment's length: the bake time, plus the canary's
    bake or every linear step's."""
    if config.canary_bake_minutes is not None:
        return config.bake_time_minutes + config.canary_bake_minutes
    if config.linear_step_bake_minutes is not None and config.linear_step_percent is not None:
        steps = linear_steps(config.linear_step_percent)
        return config.bake_time_minutes + config.linear_step_bake_minutes * steps
    return config.bake_time_minutes


def _within_33_hours(table: Table, key: str, bake: int, step_bake: int, steps: int) -> None:
    total = bake + step_bake * steps
    if total > CLOUDFORMATION_REJECTS_ABOVE_MINUTES:
        counted = f"{bake} + {step_bake}" + (f" x {steps} steps" if steps > 1 else "")
        raise table.error(
            key,
            f"bake_time_minutes + {key}{' x steps' if steps > 1 else ''} = {counted} = "
            f"{total} minutes, and CloudFormation rejects a deployment longer than 33 hours "
            f"({CLOUDFORMATION_REJECTS_ABOVE_MINUTES} minutes): shorten the bakes"
            + (" or take larger steps" if steps > 1 else ""),
        )


def _pause(table: Table, config: DeploymentConfig) -> DeploymentConfig:
    timeout = table.integer(
        "pause_timeout_minutes",
        *HOOK_TIMEOUT_MINUTES,
        default=DEFAULT_PAUSE_TIMEOUT_MINUTES,
        unit=" minutes",
    )
    left = CLOUDFORMATION_TIMEOUT_MINUTES - shift_minutes(config)
    if timeout > left:
        raise table.error(
            "pause_timeout_minutes",
            f"{timeout} minutes of pause on top of {shift_minutes(config)} of bakes outlasts "
            f"CloudFormation's {CLOUDFORMATION_TIMEOUT_MINUTES // 60} hours for the stack's "
            f"update, which would roll back while the deployment waits: use at most {left}",
        )
    return replace(config, pause_timeout_minutes=timeout)
