"""One builder per stack; each is a short sequence of add_* calls, in dependency order.

Stacks are split by lifecycle:
- `network`: the VPC (subnets, endpoints or NAT gateways, flow logs), created once, absent
  when the environment brings its own;
- `registry`: the ECR repository, which must exist before the first image is pushed;
- `static`: the static assets bucket behind a CloudFront distribution, slow to change and
  holding data, absent when the environment has no CDN (`[static_assets] cdn = false`);
- `environment`: what every service shares: the ECS cluster, the load balancer (its access
  logs, its HTTP redirect, its HTTPS listener answering 404 to what no service routes, the
  records of the services' hosts), the alert topic to PagerDuty and its KMS key;
- `svc-<name>`, one per [services.<name>]: its target group and listener rule, task
  definition, ECS service, scaling, log group, roles, alarms and dashboard, updated on every
  deployment of it; it takes the environment stack's resources as parameters (imported.py);
- `ci` (when the environment has a [ci] table): the roles GitHub Actions deploys with, made
  once by a person and never by CI itself, so it is not among build_stacks' stacks.

`build_stacks` returns each template together with how the deployer wires its parameters
(generate.py turns that into build/<env>/manifest.json).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Join, Output, Template

from environments.model import CreateVpc, Environment, ExistingVpc, ServiceConfig
from manifest import ENVIRONMENT_STACK, FromStack, Wiring, service_stack_key
from service.contract import STATIC_PATH
from templates.access_logs import add_load_balancer_logs, add_server_access_logs
from templates.boundary import add_workload_boundary, workload_boundary_arn
from templates.ci import CI_STACK, Scope, add_ci
from templates.dashboard import add_dashboard
from templates.ecs_service import add_cluster, add_ecs_service, image_uri
from templates.edge import add_load_balancer, add_route, route_values
from templates.iam import add_roles
from templates.imported import Environment as ImportedEnvironment
from templates.imported import add_environment_parameters
from templates.imported import sources as environment_sources
from templates.logs import add_logs
from templates.monitoring import (
    Alerting,
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
    add_environment_stack_parameters,
    add_hosted_zone_parameter,
    add_service_parameters,
)
from templates.progressive import add_progressive, progressive_values
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


def stack_name(env: Environment, key: str) -> str:
    """The CloudFormation stack's name of the environment's stack `key`."""
    return f"{env.app}-{env.name}-{key}"


def tasks_use(env: Environment) -> TasksUse:
    """What the service's tasks reach through the network's endpoints: the registry's
    repository, and the service stack's log group (its name CloudFormation's: the stack's
    name, the logical ID, a random suffix)."""
    return TasksUse(
        repository=repository_name(env.app, env.name),
        # Every service stack's: <app>-<env>-svc-<name>-LogGroup-<random>.
        log_group_prefix=stack_name(env, service_stack_key("")),
    )


def _template(env: Environment, what: str) -> Template:
    template = Template(Description=f"{env.app} ({env.name}): {what}")
    template.set_version(TEMPLATE_FORMAT_VERSION)
    return template


def _prefix(env: Environment) -> str:
    return f"{env.app}-{env.name}"


def _boundary(
    env: Environment,
    template: Template,
    secrets: dict[str, str] | None = None,
    shifts_traffic: bool = False,
) -> object:
    """The permissions boundary this stack's roles carry: the ci stack's workload boundary, or,
    with no ci stack, this stack's own copy of it (templates/boundary.py says why), which admits
    ECS's traffic shift where the stack has a progressive service."""
    repository = repository_name(env.app, env.name)
    if env.ci is not None:
        return workload_boundary_arn(_prefix(env))
    return add_workload_boundary(template, _prefix(env), repository, secrets, shifts_traffic)


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


def build_environment(env: Environment) -> Stack:
    """What every service shares: the cluster, the load balancer (its access logs, its HTTPS
    listener's default 404, the records of every service's host), the alert topic and its key."""
    template = _template(env, "cluster, load balancer, access logs, alert topic")
    params = add_environment_stack_parameters(
        template,
        env.pagerduty,
        certificate_given=not env.tls.create_certificate,
        protect_load_balancer=env.termination_protection,
    )
    add_alerting(template, params.pagerduty_url)
    access_logs = add_load_balancer_logs(template, env.logs, _boundary(env, template))
    add_load_balancer(
        template,
        params,
        env.dns,
        access_logs,
        hosts=tuple(service.route.host for service in env.services),
    )
    cluster = add_cluster(template)
    template.add_output(Output("ClusterName", Value=cluster.ref()))
    from_stacks: dict[str, FromStack] = {}
    parameters: dict[str, str] = {}
    if isinstance(env.network, ExistingVpc):
        parameters[params.vpc_id.title] = env.network.vpc_id
        parameters[params.subnet_ids.title] = ",".join(s.id for s in env.network.subnets)
    else:
        from_stacks[params.vpc_id.title] = FromStack("network", (VPC,))
        from_stacks[params.subnet_ids.title] = FromStack("network", PUBLIC_SUBNETS)
    from_env: dict[str, str] = {}
    if env.pagerduty.ssm_parameter is not None:
        parameters[params.pagerduty_url.title] = env.pagerduty.ssm_parameter
    elif env.pagerduty.env_var is not None:
        from_env[params.pagerduty_url.title] = env.pagerduty.env_var
    from_certificate: tuple[str, ...] = ()
    if isinstance(params.certificate, GivenCertificate):  # the manifest's certificate fills it
        from_certificate = (params.certificate.parameter.title,)
    return Stack(
        key=ENVIRONMENT_STACK,
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
    )


def build_service(env: Environment, service: ServiceConfig, image_tag: str) -> Stack:
    """One service: its route on the shared listener, its tasks, scaling, alarms, dashboard."""
    # Which service is the stack's name and the parameters' (templates/edge.py), not the
    # description's: the templates of services configured alike are the same.
    template = _template(
        env, "a service: target group, listener rule, ECS service, scaling, alarms"
    )
    params = add_service_parameters(
        template, cdn=env.static_assets.cdn, placement=env.network.placement
    )
    shared = add_environment_parameters(template)
    alerting = Alerting(key=shared.key, topic=shared.topic)
    log_group = add_logs(template, env.log_retention_days, alerting.key).group
    boundary = _boundary(env, template, service.secrets, service.deployment.progressive)
    roles = add_roles(template, params.repository_name.ref(), log_group, boundary, service.secrets)
    edge = add_route(template, params, shared, service)
    progressive = None
    if service.deployment.progressive:
        progressive = add_progressive(template, params, shared, service, edge, boundary)
    deployment_alarms = add_load_balancer_alarms(
        template,
        alerting,
        env.alarms,
        edge.load_balancer,
        edge.target_group,
        None if progressive is None else progressive.alternate_target_group,
    )
    ecs_service = add_ecs_service(
        template,
        service,
        shared.cluster,
        image=_image(service, params),
        environment={**service.environment, "STATIC_URL": _static_url(params)},
        log_group=log_group,
        roles=roles,
        edge=edge,
        subnet_ids=params.tasks_subnet_ids.ref(),
        deployment_alarms=deployment_alarms.alarms,
        public_address=not env.network.placement.private,
        progressive=progressive,
    )
    add_scaling(
        template,
        service,
        env.scaling,
        ecs_service,
        edge,
        None if progressive is None else progressive.alternate_target_group,
    )
    running_tasks_alarm = add_running_tasks_alarm(
        template, alerting, env.alarms, ecs_service.cluster, ecs_service.service
    )
    add_dashboard(
        template,
        load_balancer_metrics(edge.load_balancer, edge.target_group),
        service_metrics(ecs_service.cluster, ecs_service.service),
        (*deployment_alarms.alarms, running_tasks_alarm),
        None
        if progressive is None
        else load_balancer_metrics(edge.load_balancer, progressive.alternate_target_group),
    )
    return _service_stack(env, service, template, params, shared, image_tag)


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
    env: Environment,
    service: ServiceConfig,
    template: Template,
    params: ServiceParameters,
    shared: ImportedEnvironment,
    image_tag: str,
) -> Stack:
    """The service stack with where each of its parameters comes from, in the manifest's terms."""
    parameters = {params.image_tag.title: image_tag, **route_values(service)}
    if service.deployment.progressive:
        parameters.update(progressive_values(service))
    from_stacks = {params.repository_name.title: FromStack("registry", (REPOSITORY,))}
    for parameter, logical_id in environment_sources(shared).items():
        from_stacks[parameter] = FromStack(ENVIRONMENT_STACK, (logical_id,))
    if isinstance(env.network, ExistingVpc):
        parameters[params.vpc_id.title] = env.network.vpc_id
        subnets = (
            env.network.private_subnets if env.network.placement.private else env.network.subnets
        )
        parameters[params.subnet_ids.title] = ",".join(s.id for s in subnets)
        if params.endpoint_security_group_id is not None:
            assert env.network.endpoint_security_group is not None  # the loader requires it
            parameters[params.endpoint_security_group_id.title] = (
                env.network.endpoint_security_group
            )
    else:
        from_stacks[params.vpc_id.title] = FromStack("network", (VPC,))
        from_stacks[params.subnet_ids.title] = FromStack(
            "network", PRIVATE_SUBNETS if env.network.placement.private else PUBLIC_SUBNETS
        )
        if params.endpoint_security_group_id is not None:
            from_stacks[params.endpoint_security_group_id.title] = FromStack(
                "network", (ENDPOINT_SECURITY_GROUP,)
            )
    if params.static_url is not None:
        from_stacks[params.static_url.title] = FromStack(STATIC_STACK, output=BASE_URL_OUTPUT)
    return Stack(
        key=service_stack_key(service.name),
        service=service.name,
        template=template,
        depends_on=tuple(sorted({source.stack for source in from_stacks.values()})),
        parameters=parameters,
        parameters_from_stacks=from_stacks,
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
    stacks.append(build_environment(env))
    stacks.extend(build_service(env, service, image_tag) for service in env.services)
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
        secrets=tuple(
            sorted({(n, v) for service in env.services for n, v in service.secrets.items()})
        ),
        progressive=any(service.deployment.progressive for service in env.services),
    )
    types = {resource.resource_type for s in stacks for resource in s.template.resources.values()}
    add_ci(template, env.ci, scope, types)
    return Stack(key=CI_STACK, template=template)
