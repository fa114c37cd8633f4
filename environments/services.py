"""The `[services.<name>]` tables: each service's image, size, counts, port, health path,
environment, secrets and route, validated at load, and the listener-rule priorities.

Priorities: the HTTPS listener evaluates its rules lowest priority first, so a more specific
route (a deeper path) must come before a less specific one (the same host, no path). Each route
falls in a band by its specificity (path depth 4, 3, 2, 1, then host only) and takes, inside
the band, a stable hash of the service's name: adding, removing or reordering a service never
changes another's priority. Two services whose hashes collide are refused, naming `priority`,
the override that settles it.

A progressive service ([services.<name>.deployment], environments/deployment.py) has a second
rule, the test rule: its own route plus a header, forwarding to the new revision during a
deployment. Its priority is the production rule's minus one: evaluated just before its own
production rule (which would take every request it matches), and inside the same band, so
after every more specific route of any service (lower bands) and before no other service's
(same band: routes of one specificity never overlap, two equal ones are refused). It too is
stable and depends on no other service; a collision is refused like any other.
"""

from __future__ import annotations

import hashlib
import re

from environments.deployment import deployment
from environments.model import (
    DEFAULT_DOCKERFILE,
    IMAGE_TAG_PATTERN,
    DnsConfig,
    ImageSource,
    Route,
    ServiceConfig,
)
from environments.reader import ConfigError, Table
from service import contract

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")
# A service's name goes into its stack's name (<app>-<env>-svc-<name>), a DNS label, its log
# group and, through CloudFormation, its generated role and target group names (32 characters
# at most: CloudFormation shortens them, and names beyond 20 characters leave little of the
# service's name in them). Lowercase letters, digits and single hyphens, starting with a letter.
SERVICE_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
MAX_SERVICE_NAME = 20
IMAGE_TAG = re.compile(rf"^{IMAGE_TAG_PATTERN}$")
# registry/repository[:tag] or @sha256:<digest>: what a task definition's Image takes.
IMAGE_URI = re.compile(r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# A path prefix: "/api", "/api/v2" (ALB path patterns are case-sensitive, at most 128 characters).
PATH_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+){1,4}$")
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,127}$")
ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SSM_NAME = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
SECRET_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
)

# Fargate's CPU units and the memory sizes (MiB) each accepts.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}

# AWS's quotas for an Application Load Balancer ("Quotas for your Application Load Balancers",
# docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html): rules
# per load balancer, not counting default rules, 100; target groups per load balancer, 100
# (neither adjustable). Each service takes one rule and one target group; a progressive one
# two of each (its test rule, its alternate target group).
RULES_PER_LOAD_BALANCER = 100
TARGET_GROUPS_PER_LOAD_BALANCER = 100
MAX_SERVICES = min(RULES_PER_LOAD_BALANCER, TARGET_GROUPS_PER_LOAD_BALANCER)

# Listener-rule priorities (1-50000): a band of BAND per specificity, most specific first.
BAND = 10000
MAX_PRIORITY = 50000
HOST_ONLY_BAND = 4  # after the path depths 4, 3, 2, 1 (bands 0 to 3)
PRODUCTION_RULE, TEST_RULE = "production rule", "test rule"


def _app(root: Table) -> str:
    """The top-level `app`: the name that prefixes every stack and resource."""
    if root.has("service"):
        raise root.error("service", _legacy_service_message(root))
    app: str = root.string(
        "app",
        '2 to 24 lowercase letters, digits and hyphens, starting with a letter ("scalable-app")',
        check=APP_NAME.match,
    )
    return app


def _legacy_service_message(root: Table) -> str:
    """How to rewrite a `[service]` table (the single service of before) as `app` plus a
    `[services.web]` table: the equivalent, printed in the error."""
    old = root.data["service"]
    old = old if isinstance(old, dict) else {}
    lines = [f'app = "{old.get("name", "scalable-app")}"']
    if "image_tag" in old:
        lines.append(f'image_tag = "{old["image_tag"]}"')
    lines.append("")
    lines.append("[services.web]")
    for key, value in old.items():
        if key not in {"name", "image_tag"}:
            lines.append(f"{key} = {value!r}".replace("'", '"').replace("True", "true"))
    rewrite = "\n".join(lines)
    return (
        "the single [service] table is replaced by a top-level `app` name and one "
        "[services.<name>] table per service; rewrite it as:\n\n" + rewrite + "\n"
    )


def _image_tag(root: Table) -> str | None:
    tag: str | None = root.string(
        "image_tag",
        'an image tag other than "latest" (letters, digits, ".", "_", "-")',
        required=False,
        check=lambda tag: bool(IMAGE_TAG.match(tag)) and tag != "latest",
    )
    return tag


def _services(root: Table, dns: DnsConfig) -> tuple[ServiceConfig, ...]:
    table = root.table("services")
    if not table.data:
        raise table.error(
            "", "missing; declare at least one service, e.g. [services.web] with cpu = 256"
        )
    if len(table.data) > MAX_SERVICES:
        raise ConfigError(
            root.path,
            "services",
            f"{len(table.data)} services, and one load balancer takes at most "
            f"{RULES_PER_LOAD_BALANCER} listener rules and {TARGET_GROUPS_PER_LOAD_BALANCER} "
            f"target groups (AWS quotas, not adjustable): split them into environments of "
            f"{MAX_SERVICES} services at most",
        )
    services = []
    for name in table.data:
        if not SERVICE_NAME.match(name):
            raise table.error(
                name,
                f"the service name {name!r} is not DNS-safe: use 1 to {MAX_SERVICE_NAME} "
                "lowercase letters, digits and single hyphens, starting with a letter "
                "(it goes into stack, target group and DNS names)",
            )
        services.append(_service(name, table.table(name), dns))
    table.finish()
    _check_quotas(root, services)
    _check_routes(root, services)
    return tuple(services)


def rules_of(service: ServiceConfig) -> int:
    """The listener rules (and as many target groups) the service takes on the load balancer."""
    return 2 if service.deployment.progressive else 1


def _check_quotas(root: Table, services: list[ServiceConfig]) -> None:
    """A progressive service takes two rules and two target groups: the sum must fit the
    load balancer's quotas."""
    taken = sum(rules_of(service) for service in services)
    limit = min(RULES_PER_LOAD_BALANCER, TARGET_GROUPS_PER_LOAD_BALANCER)
    if taken <= limit:
        return
    progressive = [s.name for s in services if s.deployment.progressive]
    over = taken - limit
    raise ConfigError(
        root.path,
        "services",
        f"{len(services)} services take {taken} listener rules and {taken} target groups "
        f"(the progressive ones, {', '.join(progressive)}, two of each: a test rule and an "
        f"alternate target group), and one load balancer takes at most "
        f"{RULES_PER_LOAD_BALANCER} rules and {TARGET_GROUPS_PER_LOAD_BALANCER} target groups "
        f'(AWS quotas, not adjustable): set strategy = "rolling" in the deployment table of '
        f"{over} of them, or split the services into two environments",
    )


def _service(name: str, table: Table, dns: DnsConfig) -> ServiceConfig:
    for old in ("name", "image_tag", "desired_count"):
        if table.has(old):
            raise table.error(old, _moved(old))
    cpu = table.integer("cpu", 256, 4096, default=512, unit=" Fargate CPU units")
    if cpu not in FARGATE_MEMORY:
        raise table.error(
            "cpu", f"expected one of {', '.join(map(str, FARGATE_MEMORY))}, got {cpu}"
        )
    memory = table.integer("memory", 512, 30720, default=1024, unit=" MiB")
    if memory not in FARGATE_MEMORY[cpu]:
        sizes = FARGATE_MEMORY[cpu]
        raise table.error(
            "memory",
            f"Fargate with cpu = {cpu} takes {sizes[0]} to {sizes[-1]} MiB "
            f"in steps of {sizes[1] - sizes[0]}, got {memory}",
        )
    min_count = table.integer("min_count", 1, 100, default=2)
    max_count = table.integer("max_count", 1, 100, default=max(min_count, 4))
    if min_count > max_count:
        raise table.error(
            "max_count", f"expected min_count <= max_count, got {min_count} > {max_count}"
        )
    route = _route(table, dns)
    progressive = deployment(table.table("deployment", required=False))
    service = ServiceConfig(
        name=name,
        image=_image(table),
        cpu=cpu,
        memory=memory,
        min_count=min_count,
        max_count=max_count,
        health_check_grace_seconds=table.integer(
            "health_check_grace_seconds", 0, 600, default=60, unit=" seconds"
        ),
        route=route,
        priority=_priority(table, name, route, test_rule=progressive.progressive),
        port=table.integer("port", 1, 65535, default=contract.PORT),
        health_path=table.string(
            "health_path",
            'a path such as "/_health"',
            default=contract.HEALTH_PATH,
            check=HEALTH_PATH.match,
        ),
        environment=_environment(table),
        secrets=_secrets(table),
        deployment=progressive,
    )
    table.finish()
    return service


def _moved(key: str) -> str:
    if key == "name":
        return (
            "the service's name is its table's, [services.<name>]; the top-level `app` "
            "names the application"
        )
    if key == "image_tag":
        return "image_tag is the environment's: move it to the top of the file"
    return (
        "no longer read: Application Auto Scaling sets the task count between min_count "
        "and max_count, and a deploy never resets it; remove it (a new service starts at "
        "min_count)"
    )


def _image(table: Table) -> ImageSource:
    if table.has("image") and table.has("dockerfile"):
        raise table.error("image", "give an image URI or a dockerfile, not both")
    uri = table.string(
        "image",
        "an image URI with a tag or digest, such as public.ecr.aws/nginx/nginx:1.27",
        required=False,
        check=IMAGE_URI.match,
    )
    if uri is not None:
        return ImageSource(dockerfile=None, uri=uri)
    dockerfile = table.string(
        "dockerfile",
        "a Dockerfile's path relative to the repository",
        default=DEFAULT_DOCKERFILE,
        check=lambda path: not path.startswith("/") and ".." not in path.split("/"),
    )
    return ImageSource(dockerfile=dockerfile)


def _route(table: Table, dns: DnsConfig) -> Route:
    zone = dns.hosted_zone_name.rstrip(".")
    host = table.string("host", f"a host name inside {zone}", default=dns.domain_name)
    host = host.rstrip(".")
    if not HOSTNAME.match(host) or (host != zone and not host.endswith(f".{zone}")):
        raise table.error(
            "host",
            f'"{host}" is outside the hosted zone {zone} (dns.hosted_zone): use a name that '
            f"ends in .{zone}, such as api.{zone}",
        )
    path = table.string(
        "path",
        'a path prefix of 1 to 4 segments, such as "/api" (it matches /api and /api/...)',
        required=False,
        check=PATH_PREFIX.match,
    )
    return Route(host=host, path=path)


def _band(route: Route) -> int:
    if route.path is None:
        return HOST_ONLY_BAND
    return HOST_ONLY_BAND - route.path.count("/")  # depth 4 -> band 0 ... depth 1 -> band 3


def default_priority(name: str, route: Route) -> int:
    """The rule's priority: its specificity's band, and a stable hash of the name in it."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return _band(route) * BAND + 1 + digest % BAND


def priority_of_test_rule(service: ServiceConfig) -> int:
    """The test rule's priority: just before its production rule, in the same band."""
    return service.priority - 1


def _priority(table: Table, name: str, route: Route, test_rule: bool) -> int:
    """The production rule's priority; a service with a test rule needs the number before it
    free in its band."""
    band = _band(route)
    low, high = band * BAND + 1 + (1 if test_rule else 0), (band + 1) * BAND
    if not table.has("priority"):
        priority = default_priority(name, route)
        if priority < low:
            raise table.error(
                "priority",
                f"the name's listener-rule priority, {priority}, is the first of its band and "
                f"leaves no number before it for the test rule: set priority to another free "
                f"number from {low} to {high}",
            )
        return priority
    return table.integer("priority", low, high)


def _environment(table: Table) -> dict[str, str]:
    variables = table.mapping("environment")
    for key in variables:
        if not ENV_VAR.match(key):
            raise ConfigError(
                table.path,
                f"{table.field('environment')}.{key}",
                "expected an environment variable name (A-Z, 0-9, _)",
            )
    return variables


def _secrets(table: Table) -> dict[str, str]:
    secrets = table.mapping("secrets")
    for key, source in secrets.items():
        if not ENV_VAR.match(key) or not (SSM_NAME.match(source) or SECRET_ARN.match(source)):
            raise ConfigError(
                table.path,
                f"{table.field('secrets')}.{key}",
                "expected VARIABLE = an SSM parameter name (/app/db-password) or a Secrets "
                "Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
            )
    return secrets


def _check_routes(root: Table, services: list[ServiceConfig]) -> None:
    """Two services may not take the same host and path, nor the same priority; of two
    routes on one host, the more specific must be evaluated first."""
    seen: dict[tuple[str, str | None], str] = {}
    by_priority: dict[int, tuple[ServiceConfig, str]] = {}
    for service in services:
        field = f"services.{service.name}"
        key = (service.route.host, service.route.path)
        if key in seen:
            where = service.route.host + (service.route.path or "")
            raise ConfigError(
                root.path,
                f"{field}.path",
                f"services.{seen[key]} already routes {where}: give this service another "
                "host or path",
            )
        seen[key] = service.name
        for priority, rule in _rules(service):
            if priority in by_priority:
                raise _collision(root, priority, (service, rule), by_priority[priority])
            by_priority[priority] = (service, rule)


def _collision(
    root: Table, priority: int, rule: tuple[ServiceConfig, str], other: tuple[ServiceConfig, str]
) -> ConfigError:
    """Two rules on one priority: the fix goes to the service that owns a test rule, if one
    does (a rolling service keeps its priority when a progressive one arrives), else to the
    later one."""
    (service, what), (first, first_what) = rule, other
    if first_what == TEST_RULE and what != TEST_RULE:
        (service, what), (first, first_what) = other, rule
    field = f"services.{service.name}"
    band = _band(service.route)
    return ConfigError(
        root.path,
        f"{field}.priority",
        f"listener-rule priority {priority} ({what}) is also services.{first.name}'s "
        f"({first_what}): their names hash alike: set priority in [{field}] to another free "
        f"number of the same band ({band * BAND + 1}-{(band + 1) * BAND})",
    )


def _rules(service: ServiceConfig) -> list[tuple[int, str]]:
    """The service's listener rules' priorities, each with what it is."""
    rules = [(service.priority, PRODUCTION_RULE)]
    if service.deployment.progressive:
        rules.append((priority_of_test_rule(service), TEST_RULE))
    return rules
