"""Generate an environment's CloudFormation: `python generate.py --env NAME`.

Writes build/NAME/<stack>.json (sorted keys, byte-stable) and build/NAME/manifest.json, which
tells the deployer the stacks' order, names, parameters and where each parameter comes from.
The image tag is a stack parameter (`ImageTag`), so the templates do not change per commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import cfn_lint_pool

# `generate.py --lint` (make templates): cfn-lint's second of imports and rule loading starts
# now, in a child, and overlaps this process's imports of the template builders below and the
# generation; the child lints what main() writes. (Only when run as a script with --lint.)
PREPARED = cfn_lint_pool.Prepared() if __name__ == "__main__" and "--lint" in sys.argv[1:] else None

from environments import ConfigError, Environment, ExistingVpc, ServiceConfig, load  # noqa: E402
from environments.model import DEFAULT_DOCKERFILE  # noqa: E402
from manifest import (  # noqa: E402
    ENVIRONMENT_TAG,
    HOSTED_ZONE,
    SERVICE_TAG,
    SSM_PARAMETERS,
    VPC,
    Certificate,
    CiStack,
    Image,
    Manifest,
    Progressive,
    ServiceSpec,
    StackSpec,
    StaticAssets,
    Vpc,
    Wiring,
    service_stack_key,
)
from service.contract import STATIC_SOURCE  # noqa: E402
from templates import Stack, build_ci, build_stacks, stack_name  # noqa: E402
from templates.capabilities import capabilities  # noqa: E402
from templates.ci import cloudformation_role_arn  # noqa: E402
from templates.declared import accepted_risks  # noqa: E402
from templates.progressive import test_header  # noqa: E402
from templates.registry import repository_name  # noqa: E402
from templates.static_assets import BUCKET, STATIC_STACK  # noqa: E402

ROOT = Path(__file__).resolve().parent
BUILD_DIR = Path("build")
# Outside a git checkout (a tarball, a container build) the image tag must be configured;
# this value is used instead and says so.
NO_GIT_TAG = "dev"
MANIFEST = "manifest.json"
ROUTE53_RECORDS = {"AWS::Route53::RecordSet", "AWS::Route53::RecordSetGroup"}
VPC_TYPES = {"AWS::EC2::VPC::Id", "List<AWS::EC2::Subnet::Id>", "AWS::EC2::Subnet::Id"}


def git_revision(cwd: Path | None = None) -> str | None:
    """The checkout's short revision (12 hex digits), or None outside git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and revision else None


def resolve_image_tag(env: Environment, revision: str | None) -> str:
    """The configured tag, else the checkout's revision, else NO_GIT_TAG, saying so on stderr."""
    if env.image_tag is not None:
        return env.image_tag
    if revision is not None:
        return revision
    print(
        f"generate.py: not a git checkout and no image_tag in {env.path}: "
        f'using image tag "{NO_GIT_TAG}"',
        file=sys.stderr,
    )
    return NO_GIT_TAG


def render(template_dict: dict[str, Any]) -> str:
    return json.dumps(template_dict, indent=2, sort_keys=True) + "\n"


def manifest_entry(env: Environment, stack: Stack, template: dict[str, Any]) -> StackSpec:
    """The stack as the deployer reads it; `template` is its template's to_dict()."""
    wiring = {f.name: getattr(stack, f.name) for f in fields(Wiring)}
    return StackSpec(
        key=stack.key,
        stack_name=stack_name(env, stack.key),
        template_path=Path(f"{stack.key}.json"),
        capabilities=capabilities(stack.template),
        tags=stack_tags(env, stack),
        prerequisites=prerequisites(env, stack, template),
        role_arn=role_arn(env),
        **wiring,
    )


def stack_tags(env: Environment, stack: Stack) -> dict[str, str]:
    """The environment's [tags], and the tags that find the stack again: its environment and,
    on a service's stack, its service (an orphan once the file drops the service)."""
    tags = {**env.tags, ENVIRONMENT_TAG: env.name}
    if stack.service is not None:
        tags[SERVICE_TAG] = stack.service
    return tags


def service_spec(env: Environment, service: ServiceConfig, image_tag: str) -> ServiceSpec:
    """The service as the deployer reads it: its stack, its image, where it answers."""
    image = None
    if service.image.uri is None:
        image = Image(repository_name(env.app, env.name), image_tag)
    return ServiceSpec(
        name=service.name,
        stack=service_stack_key(service.name),
        image=image,
        url=f"https://{service.route.host}{service.route.path or ''}",
        health_path=service.health_path,
        progressive=progressive(service),
    )


def progressive(service: ServiceConfig) -> Progressive | None:
    """What the deployer needs of a blue/green, canary or linear service: its strategy, the
    header its test rule matches, how long ECS waits at the pause (None: a rolling update)."""
    config = service.deployment
    if not config.progressive:
        return None
    header, value = test_header(service)
    return Progressive(
        strategy=config.strategy,
        test_header=header,
        test_header_value=value,
        pause_timeout_minutes=config.pause_timeout_minutes,
    )


def role_arn(env: Environment) -> str | None:
    """The CloudFormation service role the environment's ci stack makes, which the deployer
    passes as the change sets' RoleARN; None without a ci stack (the caller's credentials)."""
    if env.ci is None:
        return None
    return cloudformation_role_arn(env.ci, env.region, f"{env.app}-{env.name}")


def prerequisites(env: Environment, stack: Stack, template: dict[str, Any]) -> tuple[str, ...]:
    """What the account must have before the stack is deployed, read off its template: the
    hosted zone its records (or its certificate's validation) go in, the SSM parameters
    CloudFormation reads into its parameters, the brought VPC its typed parameters name."""
    types = {name: p["Type"] for name, p in template.get("Parameters", {}).items()}
    resources = {r["Type"] for r in template.get("Resources", {}).values()}
    needs = []
    if stack.parameters_from_hosted_zone or resources & ROUTE53_RECORDS:
        needs.append(HOSTED_ZONE)
    if any(kind.startswith("AWS::SSM::Parameter::Value<") for kind in types.values()):
        needs.append(SSM_PARAMETERS)
    if isinstance(env.network, ExistingVpc) and any(
        types.get(name) in VPC_TYPES for name in stack.parameters
    ):
        needs.append(VPC)
    return tuple(needs)


def certificate(env: Environment) -> Certificate | None:
    """The certificate the stacks take: given (its ARN) or found at deploy time (no ARN);
    None when the service stack creates its own."""
    if env.tls.create_certificate:
        return None
    return Certificate(env.dns.domain_name, env.tls.certificate_arn)


def vpc(env: Environment) -> Vpc | None:
    """The VPC the environment brings, for the deployer's preflight; None: a stack makes it."""
    if not isinstance(env.network, ExistingVpc):
        return None
    return Vpc(env.network.vpc_id, env.network.subnets)


def static_assets(env: Environment, image_tag: str) -> StaticAssets | None:
    """Where `make push` uploads the assets: the static stack's bucket, under the revision's
    prefix (the service stack's STATIC_URL ends with the same tag). None: no CDN, no upload."""
    if not env.static_assets.cdn:
        return None
    return StaticAssets(STATIC_STACK, BUCKET, Path(STATIC_SOURCE), f"{image_tag}/")


def manifest(
    env: Environment,
    stacks: list[Stack],
    templates: dict[str, dict[str, Any]],
    image_tag: str,
    source: str,
    ci: Stack | None = None,
) -> Manifest:
    """`templates`: each stack's template as a dict, by stack key. The ci stack is deployed
    once by a person (README, "CI"), never by the deployer: it is not among the stacks."""
    ssm = {}
    if env.pagerduty.ssm_parameter is not None:
        ssm[env.pagerduty.ssm_parameter] = "PagerDuty integration URL (HTTPS) for the alert topic"
    return Manifest(
        path=Path(MANIFEST),
        environment=env.name,
        source=source,
        source_sha256=env.sha256,
        region=env.region,
        termination_protection=env.termination_protection,
        services=tuple(service_spec(env, service, image_tag) for service in env.services),
        hosted_zone_name=env.dns.hosted_zone_name,
        ssm_parameters=ssm,
        certificate=certificate(env),
        vpc=vpc(env),
        static_assets=static_assets(env, image_tag),
        stacks=tuple(manifest_entry(env, stack, templates[stack.key]) for stack in stacks),
        ci=None if ci is None else CiStack(stack_name(env, ci.key), f"{ci.key}.json"),
    )


def build(env: Environment, image_tag: str) -> list[Stack]:
    """The environment's stacks. A certificate the environment names or the deployer finds
    is the service stack's CertificateArn parameter either way (its Wiring lists it under
    parameters_from_certificate); the manifest's certificate says which."""
    for service in env.services:
        if service.image.dockerfile not in (None, DEFAULT_DOCKERFILE):
            # One registry repository holds this repository's image; `make push` builds the
            # one Dockerfile. A repository per Dockerfile is not built yet: refused, not
            # pushed as the wrong image.
            raise ConfigError(
                env.path,
                f"services.{service.name}.dockerfile",
                f"only {DEFAULT_DOCKERFILE} is built and pushed for now: build and push "
                f"{service.image.dockerfile} yourself and give its URI as image = "
                '"<registry>/<name>:<tag>"',
            )
    return build_stacks(env, image_tag)


def generate(env: Environment, image_tag: str) -> dict[str, str]:
    """File name -> content of everything build/<env>/ holds. No I/O."""
    stacks = build(env, image_tag)
    ci = build_ci(env, stacks)
    templates = {stack.key: stack.template.to_dict() for stack in stacks}
    files = {f"{key}.json": render(template) for key, template in templates.items()}
    if ci is not None:
        files[f"{ci.key}.json"] = render(ci.template.to_dict())
    written = manifest(env, stacks, templates, image_tag, _source(env), ci)
    files[MANIFEST] = render(written.to_dict())
    return files


def _source(env: Environment) -> str:
    """The environment file as the repository names it (environments/<name>.toml)."""
    try:
        return env.path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return env.path.as_posix()


def write(out_dir: Path, files: dict[str, str]) -> None:
    """Write the files; remove templates the previous manifest listed and this one does not
    (say, network.json once the environment brings its VPC). Nothing else is touched."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in _previous_templates(out_dir / MANIFEST) - set(files):
        (out_dir / stale).unlink(missing_ok=True)
    for name, content in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)


def _previous_templates(manifest: Path) -> set[str]:
    try:
        data = json.loads(manifest.read_text())
        listed = [*data["stacks"], *([data["ci"]] if data.get("ci") else [])]
        return {Path(stack["template"]).name for stack in listed}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


# Templates cfn-lint found clean, by the hash of their bytes, the region and cfn-lint's version:
# the same input to the same linter gives the same answer, so `make deploy` (which runs
# `make templates` each time) does not pay cfn-lint's two seconds when nothing changed.
LINT_CACHE = ".cfn-lint-clean.json"


def lint(
    templates: Mapping[Path, str], region: str, prepared: cfn_lint_pool.Prepared | None = None
) -> list[str]:
    """cfn-lint at its default level on every template (path -> the content written there) not
    already known clean, on every core (cfn_lint_pool): one message per problem found, in
    cfn-lint's order of the files, none when all is clean. The same content is linted once:
    services configured alike have the same template (templates/edge.py), and its messages
    are said of each file that has it. The cache keys hash the given contents; cfn-lint reads
    the files. `prepared`: cfn-lint already loading in a child (ended here if nothing is left
    to lint)."""
    from importlib.metadata import version

    paths = list(templates)
    cache_path = paths[0].parent / LINT_CACHE if paths else None
    known = set(_read_lint_cache(cache_path).values())
    salt = f"{version('cfn-lint')}:{region}:"
    keys = {
        p: hashlib.sha256((salt + content).encode()).hexdigest() for p, content in templates.items()
    }
    todo = sorted((p for p in paths if keys[p] not in known), key=str)
    if not todo:
        if prepared is not None:
            prepared.close()
        return []
    linted: dict[str, Path] = {}  # the first file of each content
    for path in todo:
        linted.setdefault(keys[path], path)
    found: dict[str, list[str]] = {}
    for name, message in (prepared.lint if prepared else cfn_lint_pool.lint)(
        list(linted.values()), region
    ):
        found.setdefault(name, []).append(message)
    problems = []
    for path in todo:  # a copy's messages at its own path (its lines are the first's)
        first = linted[keys[path]]
        problems += [
            (path.name, m.replace(str(first), str(path))) for m in found.get(first.name, [])
        ]
    dirty = {name for name, _ in problems}
    clean = {p.name: keys[p] for p in paths if p.name not in dirty}
    if cache_path is not None:
        cache_path.write_text(render(clean))
    return [message for _, message in problems]


def _read_lint_cache(path: Path | None) -> dict[str, str]:
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


README = ROOT / "README.md"
RISKS_BEGIN = "<!-- accepted-risks: `make accepted-risks` writes this list from the templates -->"
RISKS_END = "<!-- /accepted-risks -->"


def accepted_risks_list() -> list[str]:
    """One line per declaration (accepted.METADATA_KEY) of every environment's stacks, the ci
    stack's included; one that only some environments make says which."""
    names = sorted(path.stem for path in (ROOT / "environments").glob("*.toml"))
    found: dict[str, list[str]] = {}
    for name in names:
        env = load(name)
        stacks = build(env, "readme")
        ci = build_ci(env, stacks)
        pairs = [(stack.key, stack.template) for stack in [*stacks, *([ci] if ci else [])]]
        for line in accepted_risks(pairs):
            found.setdefault(line, []).append(name)
    return [
        line if len(envs) == len(names) else f"{line} ({', '.join(envs)} only)"
        for line, envs in found.items()
    ]


def readme_with_accepted_risks(readme: str) -> str:
    """The README with the list between its markers replaced by the templates' list."""
    start, end = readme.index(RISKS_BEGIN) + len(RISKS_BEGIN), readme.index(RISKS_END)
    return readme[:start] + "\n" + "\n".join(accepted_risks_list()) + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environments/<ENV>.toml (default: local)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (build/<ENV>)")
    parser.add_argument(
        "--lint", action="store_true", help="then run cfn-lint on every template written"
    )
    parser.add_argument(
        "--accepted-risks",
        action="store_true",
        help="write the README's list of accepted risks from every environment's templates "
        "(nothing else)",
    )
    args = parser.parse_args(argv)
    if args.accepted_risks:
        README.write_text(readme_with_accepted_risks(README.read_text()))
        return 0
    try:
        env = load(args.env)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    image_tag = resolve_image_tag(env, git_revision())
    out_dir = args.out or BUILD_DIR / env.name
    try:
        files = generate(env, image_tag)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    write(out_dir, files)
    templates = {out_dir / name: content for name, content in files.items() if name != MANIFEST}
    # Progress goes to stderr: `make -s plan OUTPUT=json` keeps stdout for the JSON document.
    print(
        f"{out_dir}: {', '.join(path.name for path in templates)} (image tag {image_tag})",
        file=sys.stderr,
    )
    if args.lint:
        problems = lint(templates, env.region, PREPARED)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"cfn-lint: {len(problems)} problem(s) in {out_dir}", file=sys.stderr)
            return 1
        print(f"cfn-lint: {len(templates)} templates clean ({env.region})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
