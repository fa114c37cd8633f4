"""`make test-templates` checkov-checks every environment's templates, each on its own: a
failing resource planted in one environment's built template only fails it, naming it.

It runs the real make target on a copy of the checkout (sharing its virtualenvs), so the
checkout's build/ is never touched; the copy needs no git (a downloaded archive has none)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from checkout_copy import copy_checkout

ROOT = Path(__file__).resolve().parent.parent

# SSH open to the internet, added to production's registry stack only: valid CloudFormation
# (cfn-lint passes it), and what checkov's CKV_AWS_24 exists to refuse.
PLANT = """

from troposphere import ec2 as _planted_ec2

_unplanted_build_registry = build_registry


def build_registry(env: Environment) -> Stack:
    stack = _unplanted_build_registry(env)
    if env.name == "production":
        stack.template.add_resource(
            _planted_ec2.SecurityGroup(
                "PlantedOpenSsh",
                GroupDescription="planted by tests/test_make_test_templates.py",
                SecurityGroupIngress=[
                    _planted_ec2.SecurityGroupRule(
                        IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
                    )
                ],
            )
        )
    return stack
"""


def test_a_check_failed_in_one_environment_only_fails_make_test_templates(
    tmp_path: Path,
) -> None:
    tree = copy_checkout(tmp_path)
    with (tree / "templates" / "__init__.py").open("a") as module:
        module.write(PLANT)
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", ".venv-checkov/.installed", "test-templates"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "CKV_AWS_24" in output
    assert "FAILED for resource: AWS::EC2::SecurityGroup.PlantedOpenSsh" in output
    assert "checkov: failed checks in build/ of: production\n" in result.stderr
    built = ROOT / "build" / "production" / "registry.json"  # absent after make clean
    assert not built.exists() or "Planted" not in built.read_text()
