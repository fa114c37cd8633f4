"""The capabilities a stack's change sets must acknowledge, read off its template.

CloudFormation refuses a CreateChangeSet (InsufficientCapabilities) whose template holds what
its Capabilities do not acknowledge. AWS's API reference (CreateChangeSet, `Capabilities`)
lists the IAM resources that need CAPABILITY_IAM or CAPABILITY_NAMED_IAM, and says "If you have
IAM resources with custom names, you must specify CAPABILITY_NAMED_IAM"; a template with a
`Transform` (a macro) needs CAPABILITY_AUTO_EXPAND when it is created directly (CreateStack),
and asking for it on a change set "has no effect", so it is asked whenever there is one.

Derived here, never listed by hand: a role added to a stack is acknowledged by the next
`make templates`.
"""

from __future__ import annotations

from troposphere import AWSObject, Template, iam

CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
CAPABILITY_AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"

# AWS's list (the CreateChangeSet/CreateStack API reference, `Capabilities`), each with the
# property that gives it a custom name (None: it has no name of its own).
IAM_RESOURCES: dict[type[AWSObject], str | None] = {
    iam.AccessKey: None,
    iam.Group: "GroupName",
    iam.InstanceProfile: "InstanceProfileName",
    iam.ManagedPolicy: "ManagedPolicyName",
    iam.PolicyType: None,  # AWS::IAM::Policy: its PolicyName names an inline policy
    iam.Role: "RoleName",
    iam.User: "UserName",
    iam.UserToGroupAddition: None,
}


def capabilities(template: Template) -> tuple[str, ...]:
    """What CreateChangeSet must be given for `template`, in a stable order."""
    needed = []
    iam_resources = [r for r in template.resources.values() if type(r) in IAM_RESOURCES]
    if any(_named(resource) for resource in iam_resources):
        needed.append(CAPABILITY_NAMED_IAM)
    elif iam_resources:
        needed.append(CAPABILITY_IAM)
    if template.transform:
        needed.append(CAPABILITY_AUTO_EXPAND)
    return tuple(needed)


def _named(resource: AWSObject) -> bool:
    name = IAM_RESOURCES[type(resource)]
    return name is not None and name in resource.properties
