"""The environment stack's resources as a service stack sees them: parameters the deployer fills
with their physical IDs (manifest FromStack resources=), and the attributes AWS derives from
those IDs. No Fn::ImportValue (an export locks its producer) and no Outputs (moto's stacks
created through change sets have none): the same parameters work on AWS and on the emulator.

An `Imported` answers `.ref()` and `.get_att(name)` as the troposphere resource would, so the
template modules (monitoring, logs, scaling, dashboard, ecs_service) take it where they took the
resource itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from troposphere import AccountId, Join, Parameter, Partition, Region, Select, Split, Template

# The environment stack's logical IDs a service stack takes, and its parameters' names.
CLUSTER, HTTPS_LISTENER, LOAD_BALANCER = "Cluster", "HttpsListener", "LoadBalancer"
LOAD_BALANCER_SECURITY_GROUP, ALERT_TOPIC, ALERTING_KEY = (
    "LoadBalancerSecurityGroup",
    "AlertTopic",
    "AlertingKey",
)


@dataclass(frozen=True)
class Imported:
    """A resource of another stack: `parameter` holds its physical ID (what Ref gives)."""

    parameter: Parameter
    attributes: dict[str, object] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.parameter.title)

    def ref(self) -> object:
        return self.parameter.ref()

    def get_att(self, name: str) -> object:
        return self.attributes[name]


@dataclass(frozen=True)
class Environment:
    """The environment stack's resources a service stack uses."""

    cluster: Imported
    https_listener: Imported
    load_balancer: Imported
    load_balancer_security_group: Imported
    topic: Imported
    key: Imported

    @property
    def all(self) -> tuple[Imported, ...]:
        return (
            self.cluster,
            self.https_listener,
            self.load_balancer,
            self.load_balancer_security_group,
            self.topic,
            self.key,
        )


def _parameter(template: Template, title: str, kind: str, description: str) -> Parameter:
    parameter: Parameter = template.add_parameter(
        Parameter(title, Type=kind, Description=f"{description} (environment stack)")
    )
    return parameter


def add_environment_parameters(template: Template) -> Environment:
    cluster = _parameter(template, "ClusterName", "String", "The ECS cluster")
    listener = _parameter(template, "HttpsListenerArn", "String", "The HTTPS listener")
    load_balancer = _parameter(template, "LoadBalancerArn", "String", "The load balancer")
    group = _parameter(
        template,
        "LoadBalancerSecurityGroupId",
        "AWS::EC2::SecurityGroup::Id",
        "The load balancer's security group",
    )
    topic = _parameter(template, "AlertTopicArn", "String", "The alert topic")
    key = _parameter(template, "AlertingKeyId", "String", "The KMS key of alerts and logs")
    return Environment(
        cluster=Imported(cluster),
        https_listener=Imported(listener),
        # LoadBalancerFullName is the ARN's part after "loadbalancer/": app/<name>/<id>.
        load_balancer=Imported(
            load_balancer,
            {"LoadBalancerFullName": Select(1, Split("loadbalancer/", load_balancer.ref()))},
        ),
        load_balancer_security_group=Imported(group),
        topic=Imported(topic),
        key=Imported(
            key,
            {
                "Arn": Join(
                    "", ["arn:", Partition, ":kms:", Region, ":", AccountId, ":key/", key.ref()]
                )
            },
        ),
    )


# Parameter -> the environment stack's logical ID whose physical ID fills it.
def sources(environment: Environment) -> dict[str, str]:
    return dict(
        zip(
            (imported.title for imported in environment.all),
            (
                CLUSTER,
                HTTPS_LISTENER,
                LOAD_BALANCER,
                LOAD_BALANCER_SECURITY_GROUP,
                ALERT_TOPIC,
                ALERTING_KEY,
            ),
            strict=True,
        )
    )
