"""AWS's rules that moto does not enforce, enforced in front of it (local_proxy.Relay's hook).

moto accepts a template with IAM resources and no capability, and a TemplateBody of any size
(../shared/EMULATOR.md); AWS refuses both before anything is created. Every local deploy
(local_aws.py serves moto behind this) and the tests (tests/conftest.py) go through it, so a
deploy that AWS would refuse fails here first, with AWS's own error:

- CreateChangeSet, CreateStack, UpdateStack whose template holds IAM resources that its
  Capabilities do not acknowledge: InsufficientCapabilitiesException, HTTP 400, "Requires
  capabilities : [CAPABILITY_IAM]" (or CAPABILITY_NAMED_IAM where an IAM resource has a custom
  name), as AWS answers it. The resources and the rule are the API reference's (CreateStack,
  `Capabilities`); CAPABILITY_AUTO_EXPAND "doesn't apply to creating change sets", so a
  Transform needs it on CreateStack and UpdateStack only.
- a TemplateBody longer than 51,200 bytes (CloudFormation's quotas page): ValidationError, HTTP
  400, "1 validation error detected: Value '...' at 'templateBody' failed to satisfy
  constraint: Member must have length less than or equal to 51200".

And one of moto's gaps, bridged so that a change set back to a stack's first values executes:
moto's ExecuteChangeSet applies an UPDATE change set's parameters to the resources (DescribeStacks
shows them) but keeps the parameters of the stack's creation for its "no changes" test
(../shared/EMULATOR.md), so a change set back to them (a rollback to the image the stack was
created with) comes back FAILED, "didn't contain changes". bridge() rewrites that answer of
DescribeChangeSet to what AWS answers (CREATE_COMPLETE, AVAILABLE) when the change set's
parameters differ from the stack's current ones, as DescribeStacks gives them; moto executes it
then, as it executes any change set (its template test is right: ExecuteChangeSet stores the
template). It keeps no record of its own, so it holds for any proxy in front of the emulator,
one started for a single run in front of a moto you run yourself included (a service's route
is a parameter too: a route changed and changed back is a change). Nothing is re-applied to
the stack: an UpdateStack re-applying each executed change set (tried in issue 16) corrupted
stacks whose update had changed resources.

The template is read as AWS reads it: TemplateBody, or the object TemplateURL names, fetched
from the emulator's S3; JSON or YAML (short-form tags such as !Ref read as plain values). It is
written from AWS's documentation, apart from templates/capabilities.py (which derives what
the deployer asks for): the one checks the other.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from local_proxy import CLOUDFORMATION_ERROR, Reply, Request, Rewrite

TEMPLATE_BODY_LIMIT = 51_200  # bytes: "Template body size in a request", CloudFormation quotas
# The IAM resources AWS lists under Capabilities, with the property that names one (None: it
# has no name of its own; AWS::IAM::Policy's PolicyName names an inline policy).
IAM_RESOURCES: dict[str, str | None] = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}
CHECKED_ACTIONS = frozenset({"CreateChangeSet", "CreateStack", "UpdateStack"})
DIRECT_ACTIONS = frozenset({"CreateStack", "UpdateStack"})  # no change set to review macros in

# Fetches an S3 object's bytes from the emulator: (bucket, key) -> body.
Fetch = Callable[[str, str], bytes]


def required_capabilities(template: dict[str, Any], action: str) -> list[str]:
    """What `action` must acknowledge for `template`, as AWS decides it."""
    resources = template.get("Resources") or {}
    iam = [r for r in resources.values() if isinstance(r, dict) and r.get("Type") in IAM_RESOURCES]
    needed = []
    if any(_named(resource) for resource in iam):
        needed.append("CAPABILITY_NAMED_IAM")
    elif iam:
        needed.append("CAPABILITY_IAM")
    if action in DIRECT_ACTIONS and template.get("Transform"):
        needed.append("CAPABILITY_AUTO_EXPAND")
    return needed


def _named(resource: dict[str, Any]) -> bool:
    name = IAM_RESOURCES[resource["Type"]]
    return name is not None and name in (resource.get("Properties") or {})


def missing_capabilities(template: dict[str, Any], action: str, given: list[str]) -> list[str]:
    """The capabilities AWS would say are required and not given; [] when none are."""
    needed = required_capabilities(template, action)
    if "CAPABILITY_NAMED_IAM" in given:  # acknowledges plain IAM resources too
        given = [*given, "CAPABILITY_IAM"]
    return [c for c in needed if c not in given]


def check(request: Request, fetch: Fetch) -> Reply | None:
    """AWS's answer where it would refuse the request; None: let the emulator answer."""
    if not request.is_cloudformation or request.command != "POST":
        return None
    form = request.form()
    action = form.get("Action", ["?"])[0]
    if action not in CHECKED_ACTIONS:
        return None
    body = form.get("TemplateBody", [None])[0]
    if body is not None and len(body.encode()) > TEMPLATE_BODY_LIMIT:
        return error(
            "ValidationError",
            f"1 validation error detected: Value '{body}' at 'templateBody' failed to satisfy "
            f"constraint: Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}",
        )
    if body is None and "TemplateURL" in form:
        body = _fetched(form["TemplateURL"][0], fetch)
    template = parse(body) if body is not None else None
    if template is None:  # no template (UsePreviousTemplate) or not one: the emulator's to say
        return None
    given = [v for k, vs in form.items() if k.startswith("Capabilities.member.") for v in vs]
    missing = missing_capabilities(template, action, given)
    if missing:
        required = ", ".join(missing)
        return error("InsufficientCapabilitiesException", f"Requires capabilities : [{required}]")
    return None


def error(code: str, message: str) -> Reply:
    """CloudFormation's query-protocol error, HTTP 400, as AWS sends it."""
    body = CLOUDFORMATION_ERROR.format(code=code, message=escape(message), request_id=uuid.uuid4())
    return Reply(400, body.encode(), [("Content-Type", "text/xml")])


def parse(body: str) -> dict[str, Any] | None:
    """The template, JSON or YAML; None when it is neither (the emulator then answers)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = _yaml(body)
    return parsed if isinstance(parsed, dict) else None


def _yaml(body: str) -> object:
    import yaml  # moto's own dependency

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    Loader.add_multi_constructor("!", plain)
    try:
        return yaml.load(body, Loader=Loader)
    except yaml.YAMLError:
        return None


def _fetched(url: str, fetch: Fetch) -> str | None:
    """The template object a TemplateURL names (virtual-hosted or path-style S3 URL)."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", unquote(parts.path.lstrip("/"))
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fetch(bucket, key).decode("utf-8")
    except (BotoCoreError, ClientError, UnicodeDecodeError):  # the emulator's to report
        return None


def emulator_client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    """A client of the emulator itself, behind this proxy (dummy credentials: moto checks
    none)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_fetch(endpoint: str) -> Fetch:
    """Reads objects from the emulator's S3."""

    def fetch(bucket: str, key: str) -> bytes:
        s3 = emulator_client(endpoint, "s3")
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    return fetch


SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"
NO_CHANGES = "didn't contain changes"  # AWS's (and moto's) StatusReason of an empty change set


def bridge(endpoint: str) -> Rewrite:
    """The relay's rewrite of the emulator's answers (see the module's docstring): moto's "no
    changes" of a change set whose parameters differ from the stack's current ones (as
    DescribeStacks gives them) answered as AWS answers it."""

    def rewrite(request: Request, status: int, body: bytes) -> bytes:
        if status != 200 or not request.is_cloudformation:
            return body
        if request.action() != "DescribeChangeSet" or NO_CHANGES.encode() not in body:
            return body
        form = request.form()
        named = {"ChangeSetName": form.get("ChangeSetName", [""])[0]}
        if "StackName" in form:
            named["StackName"] = form["StackName"][0]
        cf = emulator_client(endpoint, "cloudformation", _region(request))
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            change_set = cf.describe_change_set(**named)
            (stack,) = cf.describe_stacks(StackName=change_set["StackId"])["Stacks"]
        except (BotoCoreError, ClientError, ValueError):  # the emulator's answer stands
            return body
        asked, current = (
            {p["ParameterKey"]: _as_given(p.get("ParameterValue")) for p in parameters}
            for parameters in (change_set.get("Parameters", []), stack.get("Parameters", []))
        )
        differ = {
            key for key in asked.keys() | current.keys() if asked.get(key) != current.get(key)
        }
        try:
            differ -= _resolved_alike(endpoint, _region(request), stack, asked, current, differ)
        except (BotoCoreError, ClientError, ValueError):  # the emulator's answer stands
            return body
        # The same as the stack's: moto's test (against the create's) is right.
        return _as_available(body) if differ else body

    return rewrite


def _resolved_alike(
    endpoint: str,
    region: str,
    stack: dict[str, Any],
    asked: dict[str, str | None],
    current: dict[str, str | None],
    keys: set[str],
) -> set[str]:
    """Those of `keys` whose parameter is an SSM parameter's value (AWS::SSM::Parameter::Value<>)
    that resolves to the stack's: moto's DescribeStacks shows the resolved value where AWS shows
    the parameter's name (and the value as ResolvedValue)."""
    if not keys:
        return set()
    cf = emulator_client(endpoint, "cloudformation", region)
    body = cf.get_template(StackName=stack["StackId"])["TemplateBody"]
    declared = (json.loads(body) if isinstance(body, str) else body).get("Parameters", {})
    ssm = emulator_client(endpoint, "ssm", region)
    alike = set()
    for key in keys:
        name = asked.get(key)
        if name and str(declared.get(key, {}).get("Type", "")).startswith(SSM_PARAMETER_TYPE):
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            if value == current.get(key):
                alike.add(key)
    return alike


def _as_given(value: str | None) -> str | None:
    """A parameter's value as it was given: moto's DescribeStacks shows a list parameter's
    (List<AWS::EC2::Subnet::Id>) as Python prints a list, "['subnet-a', 'subnet-b']"."""
    if value is None or not value.startswith("["):
        return value
    try:
        listed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return ",".join(str(item) for item in listed) if isinstance(listed, list) else value


def _as_available(body: bytes) -> bytes:
    """DescribeChangeSet's answer with the status of a change set ready to execute."""
    text = body.decode("utf-8")
    text = re.sub(r"<Status>FAILED</Status>", "<Status>CREATE_COMPLETE</Status>", text)
    text = re.sub(
        r"<ExecutionStatus>[A-Z_]*</ExecutionStatus>",
        "<ExecutionStatus>AVAILABLE</ExecutionStatus>",
        text,
    )
    text = re.sub(r"<StatusReason>[^<]*</StatusReason>", "", text)
    return text.encode("utf-8")


def _region(request: Request) -> str:
    """The region of SigV4's credential scope (Credential=AKID/date/REGION/service/...)."""
    scope = request.headers.get("authorization", "").split("Credential=", 1)[-1].split("/")
    return scope[2] if len(scope) > 2 else "us-east-1"


# Asked of an endpoint to tell this proxy from the emulator itself (is_proxy): answered here.
PROBE_PATH = "/_local_conformance"


def hook(endpoint: str) -> Callable[[Request], Reply | None]:
    """The relay hook that enforces these rules in front of the emulator at `endpoint`."""
    fetch = s3_fetch(endpoint)

    def answer(request: Request) -> Reply | None:
        if request.command == "GET" and request.path == PROBE_PATH:
            return Reply(200, b"AWS rules enforced\n", [("Content-Type", "text/plain")])
        return check(request, fetch)

    return answer


def is_proxy(endpoint: str) -> bool:
    """This proxy answers at `endpoint` (so a local deploy needs no second one)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}{PROBE_PATH}", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False
