"""cfn_lint_pool and cfn_lint_patches: on every core, with the memoizations, cfn-lint says exactly
what its own runner says (`cfnlint.api.lint_by_config`, unpatched, in a fresh process): the same
messages, in the order of the templates given."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cfn_lint_patches
import cfn_lint_pool
import generate
from environments import load

ROOT = Path(__file__).resolve().parent.parent

# Problems of many kinds (unknown property, Ref and GetAtt to nothing, Sub of an unknown
# variable, enum, range, type, pattern, IAM effect and action), each reached through rule E1101's
# child rules, the code the patches touch.
BROKEN = {
    "BadTopic": {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "TopicName": {"Ref": "Missing"},
            "Nope": 1,
            "KmsMasterKeyId": {"Fn::GetAtt": ["Missing", "Arn"]},
        },
    },
    "BadPolicy": {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Maybe", "Action": "s3:GetObjectz", "Resource": "*"}],
            }
        },
    },
    "BadQueue": {
        "Type": "AWS::SQS::Queue",
        "Properties": {"DelaySeconds": 9999, "QueueName": {"Fn::Sub": "${Nope}-q"}},
    },
    "BadLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 4}},
    "BadGroup": {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": 5,
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": "x", "CidrIp": "1.2.3.4/99"}
            ],
        },
    },
}

UNPATCHED = """
import sys
from pathlib import Path
from cfnlint.api import ManualArgs, lint_by_config
paths = sys.argv[1:]
for match in lint_by_config(ManualArgs(templates=paths, regions=["us-east-1"])):
    print(Path(match.filename).name + "\\t" + str(match))
"""


def _templates(directory: Path) -> list[Path]:
    """The local environment's templates, clean, with broken copies of two in between."""
    files = generate.generate(load("local"), "test")
    paths = []
    for name in ("network.json", "svc-web.json", "registry.json", "environment.json"):
        paths.append(directory / name)
        paths[-1].write_text(files[name])
        if name in ("svc-web.json", "environment.json"):
            template = json.loads(files[name])
            template["Resources"].update(BROKEN)
            paths.append(directory / f"broken-{name}")
            paths[-1].write_text(json.dumps(template, indent=1))
    return paths


def test_pool_and_patches_say_what_cfn_lint_says(tmp_path: Path) -> None:
    paths = _templates(tmp_path)
    shipped = subprocess.run(
        [sys.executable, "-c", UNPATCHED, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    rules = set(re.findall(r"\t\[([EWI]\d+):", "\n".join(shipped)))
    assert len(rules) >= 8, rules  # the broken templates exercise many rules
    assert {line.split("\t")[0] for line in shipped} == {
        "broken-svc-web.json",
        "broken-environment.json",
    }

    found = cfn_lint_pool.lint(paths, "us-east-1", workers=2)
    assert [f"{name}\t{message}" for name, message in found] == shipped
    assert cfn_lint_pool.lint(paths, "us-east-1", workers=1) == found


def test_a_clean_set_is_clean_on_every_core(tmp_path: Path) -> None:
    paths = [p for p in _templates(tmp_path) if not p.name.startswith("broken-")]
    assert cfn_lint_pool.lint(paths, "us-east-1", workers=3) == []


def test_the_patches_are_for_the_pinned_cfn_lint_and_applied() -> None:
    pin = re.search(r"^cfn-lint==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin is not None and pin.group(1) == cfn_lint_patches.PINNED
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    rules = Runner(ConfigMixIn(**ManualArgs(regions=["us-east-1"]))).rules
    assert cfn_lint_patches.apply(rules)
    # cfn-lint renamed or moved what is patched: the patch would silently do nothing.
    assert type(rules.data["E1101"]).cfnLint is cfn_lint_patches._cfn_lint_by_keyword
    import cfnlint.jsonschema.validators

    assert getattr(cfnlint.jsonschema.validators.create, "memoized", False)


def test_prepared_child_lints_as_the_pool_does(tmp_path: Path) -> None:
    paths = _templates(tmp_path)
    prepared = cfn_lint_pool.Prepared()
    found = prepared.lint(paths, "us-east-1")
    assert found and found == cfn_lint_pool.lint(paths, "us-east-1", workers=1)
    assert not prepared._process.is_alive()


def test_an_unused_prepared_child_is_ended_without_waiting_for_it() -> None:
    """Nothing to lint (every template known clean, or a bad environment file): the child,
    still importing cfn-lint, is ended, not waited for."""
    prepared = cfn_lint_pool.Prepared()
    prepared.close()
    assert not prepared._process.is_alive()
    assert prepared._process.exitcode is not None and prepared._process.exitcode < 0  # signalled
