"""One builder per stack; each is a short sequence of add_* calls, in dependency order.

Stacks are split by lifecycle:
- `network`: the VPC (subnets, endpoints or NAT gateways, flow logs), created once, absent
  when the environment brings its own;
- `registry`: the ECR repository, which must exist before the first image is pushed;
- `static`: the static assets bucket behind a CloudFront distribution, slow to change and
  holding data, absent when the environment has no CDN (`[static_assets] cdn = false`);
- `service`: everything that serves and watches traffic, updated on every deployment;
- `ci` (when the environment has a [ci] table): the roles GitHub Actions deploys with, made
  once by a person and never by CI itself, so it is not among build_stacks' stacks.

`build_stacks` returns each template together with how the deployer wires its parameters
(generate.py turns that into build/<env>/manifest.json).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Join, Output, Template

from environments.model import CreateVpc, Environment, ExistingVpc, ServiceConfig
from manifest import FromStack, Wiring, service_stack_key
from service.contract import STATIC_PATH
from templates.access_logs import add_load_balancer_logs, add_server_access_logs
from templates.boundary import add_workload_boundary, workload_boundary_arn
from templates.ci import CI_STACK, Scope, add_ci
from templates.dashboard import add_dashboard
from templates.ecs_service import add_ecs_service, image_uri
from templates.edge import add_edge
from templates.iam import add_roles
from templates.logs import LOG_GROUP, add_logs
from templates.monitoring import (
    add_alerting,
    add_load_balancer_alarms,
    add_running_tasks_alarm,
    load_balancer_metrics,
    service_metrics,
)
from templates.network import PRIVATE_SUBNETS, PUBLIC_SUBNETS, VPC, add_network
from templates.parameters import (
    GivenCertificate,
    ServiceParameters,
    add_hosted_zone_parameter,
    add_service_parameters,
)
from templates.registry import REPOSITORY, add_registry, repository_name
from templates.scaling import add_scaling
from templates.static_assets import (
    BASE_URL_OUTPUT,
    STATIC_STACK,
    add_static_assets,
    base_url,
)
from templates.vpc_endpoints import ENDPOINT_SECURITY_GROUP, TasksUse

TEMPLATE_FORMAT_VERSION = "2010-09-09"


@dataclass(frozen=True)
class Stack(Wiring):
    """A stack's template and how the deployer wires it (generate.py makes it a StackSpec of
    the manifest)."""

    key: str
    template: Template


def only_service(env: Environment) -> ServiceConfig:
    """The environment's one service: until the environment stack (cluster, load balancer)
    is split from the service stacks, every service would bring its own load balancer and its
    own record for the same name, so the templates build one service per environment and a
    second is refused by generate.py."""
    return env.services[0]


def stack_name(env: Environment, key: str) -> str:
    """The CloudFormation stack's name of the environment's stack `key`."""
    return f"{env.app}-{env.name}-{key}"


def tasks_use(env: Environment) -> TasksUse:
    """What the service's tasks reach through the network's endpoints: the registry's
    repository, and the service stack's log group (its name CloudFormation's: the stack's
    name, the logical ID, a random suffix)."""
    return TasksUse(
        repository=repository_name(env.app, env.name),
        log_group_prefix=(
            f"{stack_name(env, service_stack_key(only_service(env).name))}-{LOG_GROUP}-"
        ),
    )


def _template(env: Environment, what: str) -> Template:
    template = Template(Description=f"{env.app} ({env.name}): {what}")
    template.set_version(TEMPLATE_FORMAT_VERSION)
    return template


def _prefix(env: Environment) -> str:
    return f"{env.app}-{env.name}"


def _boundary(env: Environment, template: Template) -> object:
    """The permissions boundary this stack's roles carry: the ci stack's workload boundary, or,
    with no ci stack, this stack's own copy of it (templates/boundary.py says why)."""
    repository = repository_name(env.app, env.name)
    if env.ci is not None:
        return workload_boundary_arn(_prefix(env))
    return add_workload_boundary(template, _prefix(env), repository)


def build_network(env: Environment, config: CreateVpc) -> Stack:
    placement = config.placement
    what = (
        f"VPC, public and private subnets, {placement.egress}, flow logs"
        if placement.private
        else "VPC, two public subnets, internet gateway, flow logs"
    )
    template = _template(env, what)
    network = add_network(
        template, config, env.log_retention_days, tasks_use(env), _boundary(env, template)
    )
    template.add_output(Output("VpcId", Value=network.vpc.ref()))
    template.add_output(
        Output("SubnetIds", Value=Join(",", [subnet.ref() for subnet in network.public_subnets]))
    )
    if network.private_subnets:
        template.add_output(
            Output(
                "PrivateSubnetIds",
                Value=Join(",", [subnet.ref() for subnet in network.private_subnets]),
            )
        )
    return Stack(key="network", template=template)


def build_registry(env: Environment) -> Stack:
    template = _template(env, "ECR repository")
    registry = add_registry(template, repository_name(env.app, env.name))
    template.add_output(Output("RepositoryName", Value=registry.repository.ref()))
    template.add_output(Output("RepositoryUri", Value=registry.repository.get_att("RepositoryUri")))
    return Stack(key="registry", template=template)


def build_static(env: Environment) -> Stack:
    template = _template(env, "static assets: private S3 bucket behind CloudFront")
    config = env.static_assets
    hosted_zone_id = add_hosted_zone_parameter(template)
    access_logs = add_server_access_logs(template, env.logs)
    assets = add_static_assets(template, access_logs, config, env.dns, hosted_zone_id)
    template.add_output(Output("StaticAssetsBucketName", Value=assets.bucket.ref()))
    template.add_output(Output("DistributionId", Value=assets.distribution.ref()))
    template.add_output(Output(BASE_URL_OUTPUT, Value=base_url(config)))
    return Stack(
        key=STATIC_STACK,
        template=template,
        parameters_from_hosted_zone=(hosted_zone_id.title,),
    )


def build_service(env: Environment, image_tag: str) -> Stack:
    template = _template(env, "load balancer, ECS service, scaling, logs, alarms, dashboard")
    params = add_service_parameters(
        template,
        env.pagerduty,
        certificate_given=not env.tls.create_certificate,
        cdn=env.static_assets.cdn,
        placement=env.network.placement,
        protect_load_balancer=env.termination_protection,
    )
    alerting = add_alerting(template, params.pagerduty_url)
    log_group = add_logs(template, env.log_retention_days, alerting.key).group
    boundary = _boundary(env, template)
    access_logs = add_load_balancer_logs(template, env.logs, boundary)
    roles = add_roles(template, params.repository_name.ref(), log_group, boundary)
    edge = add_edge(
        template,
        params,
        env.dns,
        access_logs,
        placement=env.network.placement,
        port=only_service(env).port,
        health_path=only_service(env).health_path,
    )
    deployment_alarms = add_load_balancer_alarms(
        template, alerting, env.alarms, edge.load_balancer, edge.target_group
    )
    service = add_ecs_service(
        template,
        only_service(env),
        image=_image(only_service(env), params),
        environment={**only_service(env).environment, "STATIC_URL": _static_url(params)},
        log_group=log_group,
        roles=roles,
        edge=edge,
        subnet_ids=params.tasks_subnet_ids.ref(),
        deployment_alarms=deployment_alarms.alarms,
        public_address=not env.network.placement.private,
    )
    add_scaling(template, only_service(env), env.scaling, service, edge)
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


def _image(service: ServiceConfig, params: ServiceParameters) -> object:
    """This repository's image in the registry at the revision's tag, or the URI the file names."""
    if service.image.uri is not None:
        return service.image.uri
    return image_uri(params.repository_name.ref(), params.image_tag.ref())


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
        if params.task_subnet_ids is not None:
            parameters[params.task_subnet_ids.title] = ",".join(
                s.id for s in env.network.private_subnets
            )
        if params.endpoint_security_group_id is not None:
            assert env.network.endpoint_security_group is not None  # the loader requires it
            parameters[params.endpoint_security_group_id.title] = (
                env.network.endpoint_security_group
            )
    else:
        from_stacks[params.vpc_id.title] = FromStack("network", (VPC,))
        from_stacks[params.subnet_ids.title] = FromStack("network", PUBLIC_SUBNETS)
        if params.task_subnet_ids is not None:
            from_stacks[params.task_subnet_ids.title] = FromStack("network", PRIVATE_SUBNETS)
        if params.endpoint_security_group_id is not None:
            from_stacks[params.endpoint_security_group_id.title] = FromStack(
                "network", (ENDPOINT_SECURITY_GROUP,)
            )
    if params.static_url is not None:
        from_stacks[params.static_url.title] = FromStack(STATIC_STACK, output=BASE_URL_OUTPUT)
    from_certificate: tuple[str, ...] = ()
    if isinstance(params.certificate, GivenCertificate):  # the manifest's certificate fills it
        from_certificate = (params.certificate.parameter.title,)
    if env.pagerduty.ssm_parameter is not None:
        parameters[params.pagerduty_url.title] = env.pagerduty.ssm_parameter
    elif env.pagerduty.env_var is not None:
        from_env[params.pagerduty_url.title] = env.pagerduty.env_var
    return Stack(
        key=service_stack_key(only_service(env).name),
        service=only_service(env).name,
        template=template,
        depends_on=tuple(sorted({source.stack for source in from_stacks.values()})),
        parameters=parameters,
        parameters_from_stacks=from_stacks,
        parameters_from_env=from_env,
        parameters_from_hosted_zone=(params.hosted_zone_id.title,),
        parameters_from_certificate=from_certificate,
        parameters_from_stack_exists=tuple(
            p.title for p in (params.stack_exists,) if p is not None
        ),
        parameters_from_s3_prefix_list=tuple(
            p.title for p in (params.s3_prefix_list_id,) if p is not None
        ),
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


# ---- ci (issue 10) ----
def build_ci(env: Environment, stacks: list[Stack]) -> Stack | None:
    """The ci stack of the environment's `stacks`, or None when it has no [ci] table. Its
    CloudFormation role may manage the resource types those stacks hold, and no others."""
    if env.ci is None:
        return None
    template = _template(env, "GitHub Actions' OIDC roles and the CloudFormation service role")
    scope = Scope(
        prefix=_prefix(env),
        environment=env.name,
        repository=repository_name(env.app, env.name),
        ssm_parameters=tuple(p for p in (env.pagerduty.ssm_parameter,) if p is not None),
        region=env.region,
    )
    types = {resource.resource_type for s in stacks for resource in s.template.resources.values()}
    add_ci(template, env.ci, scope, types)
    return Stack(key=CI_STACK, template=template)
