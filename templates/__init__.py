"""One builder per stack; each is a short sequence of add_* calls, in dependency order.

Stacks are split by lifecycle:
- `network`: the VPC, created once, absent when the environment brings its own;
- `registry`: the ECR repository, which must exist before the first image is pushed;
- `static`: the static assets bucket behind a CloudFront distribution, slow to change and
  holding data, absent when the environment has no CDN (`[static_assets] cdn = false`);
- `service`: everything that serves and watches traffic, updated on every deployment.

`build_stacks` returns each template together with how the deployer wires its parameters
(generate.py turns that into build/<env>/manifest.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from troposphere import Join, Output, Template

from environments.model import CreateVpc, Environment, ExistingVpc
from service.contract import STATIC_PATH
from templates.access_logs import add_load_balancer_logs, add_server_access_logs
from templates.dashboard import add_dashboard
from templates.ecs_service import add_ecs_service, image_uri
from templates.edge import add_edge
from templates.iam import add_roles
from templates.logs import add_logs
from templates.monitoring import (
    add_alerting,
    add_load_balancer_alarms,
    add_running_tasks_alarm,
    load_balancer_metrics,
    service_metrics,
)
from templates.network import PUBLIC_SUBNETS, VPC, add_network
from templates.parameters import GivenCertificate, ServiceParameters, add_service_parameters
from templates.registry import REPOSITORY, add_registry, repository_name
from templates.scaling import add_scaling
from templates.static_assets import (
    BASE_URL_OUTPUT,
    STATIC_STACK,
    add_static_assets,
    base_url,
)

TEMPLATE_FORMAT_VERSION = "2010-09-09"


@dataclass(frozen=True)
class FromStack:
    """A parameter the deployer fills from another stack: with the physical IDs of its
    `resources` (joined by ","), or with the value of one of its Outputs (`output`)."""

    stack: str
    resources: tuple[str, ...] = ()
    output: str | None = None

    def __post_init__(self) -> None:
        if bool(self.resources) == (self.output is not None):
            raise ValueError(f"FromStack({self.stack!r}): give resources or an output, not both")


@dataclass(frozen=True)
class Stack:
    key: str
    template: Template
    depends_on: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    parameters_from_stacks: dict[str, FromStack] = field(default_factory=dict)
    parameters_from_env: dict[str, str] = field(default_factory=dict)
    # Parameters the deployer fills with the ID of the manifest's hosted zone (looked up by name).
    parameters_from_hosted_zone: tuple[str, ...] = ()
    needs_image: bool = False


def _template(env: Environment, what: str) -> Template:
    template = Template(Description=f"{env.service.name} ({env.name}): {what}")
    template.set_version(TEMPLATE_FORMAT_VERSION)
    return template


def build_network(env: Environment, config: CreateVpc) -> Stack:
    template = _template(env, "VPC, two public subnets, internet gateway")
    network = add_network(template, config)
    template.add_output(Output("VpcId", Value=network.vpc.ref()))
    template.add_output(
        Output("SubnetIds", Value=Join(",", [subnet.ref() for subnet in network.public_subnets]))
    )
    return Stack(key="network", template=template)


def build_registry(env: Environment) -> Stack:
    template = _template(env, "ECR repository")
    registry = add_registry(template, repository_name(env.service.name, env.name))
    template.add_output(Output("RepositoryName", Value=registry.repository.ref()))
    template.add_output(Output("RepositoryUri", Value=registry.repository.get_att("RepositoryUri")))
    return Stack(key="registry", template=template)


def build_static(env: Environment) -> Stack:
    template = _template(env, "static assets: private S3 bucket behind CloudFront")
    access_logs = add_server_access_logs(template, env.log_retention_days)
    assets = add_static_assets(template, access_logs)
    template.add_output(Output("StaticAssetsBucketName", Value=assets.bucket.ref()))
    template.add_output(Output("DistributionId", Value=assets.distribution.ref()))
    template.add_output(Output(BASE_URL_OUTPUT, Value=base_url(assets.distribution)))
    return Stack(key=STATIC_STACK, template=template)


def build_service(env: Environment, image_tag: str) -> Stack:
    template = _template(env, "load balancer, ECS service, scaling, logs, alarms, dashboard")
    params = add_service_parameters(
        template,
        env.pagerduty,
        certificate_arn=env.tls.certificate_arn,
        cdn=env.static_assets.cdn,
    )
    alerting = add_alerting(template, params.pagerduty_url)
    log_group = add_logs(template, env.log_retention_days, alerting.key).group
    access_logs = add_load_balancer_logs(template, env.log_retention_days)
    roles = add_roles(template, params.repository_name.ref(), log_group)
    edge = add_edge(
        template,
        params,
        env.dns,
        access_logs,
        deletion_protection=env.termination_protection,
    )
    deployment_alarms = add_load_balancer_alarms(
        template, alerting, env.alarms, edge.load_balancer, edge.target_group
    )
    service = add_ecs_service(
        template,
        env.service,
        image=image_uri(params.repository_name.ref(), params.image_tag.ref()),
        environment={"STATIC_URL": _static_url(params)},
        log_group=log_group,
        roles=roles,
        edge=edge,
        subnet_ids=params.subnet_ids.ref(),
        deployment_alarms=deployment_alarms.alarms,
    )
    add_scaling(template, env.service, env.scaling, service, edge)
    running_tasks_alarm = add_running_tasks_alarm(
        template, alerting, env.alarms, service.cluster, service.service
    )
    add_dashboard(
        template,
        load_balancer_metrics(edge.load_balancer, edge.target_group),
        service_metrics(service.cluster, service.service),
        (*deployment_alarms.alarms, running_tasks_alarm),
    )
    return _service_stack(env, template, params, image_tag)


def _static_url(params: ServiceParameters) -> object:
    """The CDN's URL under this revision's prefix (push.py uploads there), else the app's own
    copy of the assets."""
    if params.static_url is None:
        return STATIC_PATH
    return Join("/", [params.static_url.ref(), params.image_tag.ref()])


def _service_stack(
    env: Environment, template: Template, params: ServiceParameters, image_tag: str
) -> Stack:
    """The service stack with where each of its parameters comes from, in the manifest's terms."""
    parameters = {params.image_tag.title: image_tag}
    from_stacks = {params.repository_name.title: FromStack("registry", (REPOSITORY,))}
    from_env: dict[str, str] = {}
    if isinstance(env.network, ExistingVpc):
        parameters[params.vpc_id.title] = env.network.vpc_id
        parameters[params.subnet_ids.title] = ",".join(s.id for s in env.network.subnets)
    else:
        from_stacks[params.vpc_id.title] = FromStack("network", (VPC,))
        from_stacks[params.subnet_ids.title] = FromStack("network", PUBLIC_SUBNETS)
    if params.static_url is not None:
        from_stacks[params.static_url.title] = FromStack(STATIC_STACK, output=BASE_URL_OUTPUT)
    from_hosted_zone: tuple[str, ...] = ()
    if isinstance(params.certificate, GivenCertificate):
        parameters[params.certificate.parameter.title] = params.certificate.arn
    else:
        from_hosted_zone = (params.certificate.hosted_zone_id.title,)
    if env.pagerduty.ssm_parameter is not None:
        parameters[params.pagerduty_url.title] = env.pagerduty.ssm_parameter
    elif env.pagerduty.env_var is not None:
        from_env[params.pagerduty_url.title] = env.pagerduty.env_var
    return Stack(
        key="service",
        template=template,
        depends_on=tuple(sorted({source.stack for source in from_stacks.values()})),
        capabilities=("CAPABILITY_IAM",),
        parameters=parameters,
        parameters_from_stacks=from_stacks,
        parameters_from_env=from_env,
        parameters_from_hosted_zone=from_hosted_zone,
        needs_image=True,
    )


def build_stacks(env: Environment, image_tag: str) -> list[Stack]:
    """Every stack of the environment, in dependency order."""
    stacks = []
    if isinstance(env.network, CreateVpc):
        stacks.append(build_network(env, env.network))
    stacks.append(build_registry(env))
    if env.static_assets.cdn:
        stacks.append(build_static(env))
    stacks.append(build_service(env, image_tag))
    return stacks
