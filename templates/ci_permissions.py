"""What CloudFormation needs to be allowed to manage each resource type of this app's stacks.

The CloudFormation service role (templates/ci.py) is granted the actions of the resource types
the environment's templates hold, and no others: a stack that gains a type this table does not
know stops `make templates` (UnknownResourceType), rather than failing at deploy time in CI
with AccessDenied. The actions are those of each type's create, update, delete and read
handlers, as AWS's resource type schemas list them.
"""

from __future__ import annotations

from awacs.aws import Action

# Actions IAM accepts only with Resource "*" (no resource-level permission): the describes and
# lists of these services, and the creates that name no resource yet.
UNSCOPED = frozenset(
    {
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeSubnets",
        "ec2:DescribeInternetGateways",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeFlowLogs",
        "ec2:DescribeNatGateways",
        "ec2:DescribeAddresses",
        "ec2:DescribePrefixLists",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:DescribeTags",
        "kms:CreateKey",
        "logs:DescribeLogGroups",
        "cloudwatch:DescribeAlarms",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScalingPolicies",
        "acm:RequestCertificate",
        "route53:GetChange",
    }
)

_TAGS_EC2 = ("ec2:CreateTags", "ec2:DeleteTags")
_TAGS = ("TagResource", "UntagResource", "ListTagsForResource")

BY_TYPE: dict[str, tuple[str, ...]] = {
    "AWS::EC2::VPC": (
        "ec2:CreateVpc",
        "ec2:DeleteVpc",
        "ec2:ModifyVpcAttribute",
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        *_TAGS_EC2,
    ),
    "AWS::EC2::Subnet": (
        "ec2:CreateSubnet",
        "ec2:DeleteSubnet",
        "ec2:ModifySubnetAttribute",
        "ec2:DescribeSubnets",
        "ec2:DescribeAvailabilityZones",
        *_TAGS_EC2,
    ),
    "AWS::EC2::InternetGateway": (
        "ec2:CreateInternetGateway",
        "ec2:DeleteInternetGateway",
        "ec2:DescribeInternetGateways",
        *_TAGS_EC2,
    ),
    "AWS::EC2::VPCGatewayAttachment": (
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:DescribeInternetGateways",
    ),
    "AWS::EC2::RouteTable": (
        "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable",
        "ec2:DescribeRouteTables",
        *_TAGS_EC2,
    ),
    "AWS::EC2::Route": ("ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute"),
    "AWS::EC2::SubnetRouteTableAssociation": (
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation",
        "ec2:DescribeRouteTables",
    ),
    "AWS::EC2::SecurityGroup": (
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:DescribeSecurityGroups",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        *_TAGS_EC2,
    ),
    "AWS::EC2::SecurityGroupEgress": (
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:DescribeSecurityGroupRules",
    ),
    "AWS::EC2::VPCEndpoint": (
        "ec2:CreateVpcEndpoint",
        "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribePrefixLists",
        *_TAGS_EC2,
    ),
    "AWS::EC2::FlowLog": (
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "ec2:DescribeFlowLogs",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        *_TAGS_EC2,
    ),
    "AWS::EC2::NatGateway": (
        "ec2:CreateNatGateway",
        "ec2:DeleteNatGateway",
        "ec2:DescribeNatGateways",
        *_TAGS_EC2,
    ),
    "AWS::EC2::EIP": (
        "ec2:AllocateAddress",
        "ec2:ReleaseAddress",
        "ec2:DescribeAddresses",
        *_TAGS_EC2,
    ),
    "AWS::EC2::SecurityGroupIngress": (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:DescribeSecurityGroupRules",
    ),
    "AWS::ECR::Repository": (
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:DescribeRepositories",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:PutLifecyclePolicy",
        "ecr:GetLifecyclePolicy",
        "ecr:DeleteLifecyclePolicy",
        "ecr:SetRepositoryPolicy",
        "ecr:GetRepositoryPolicy",
        "ecr:DeleteRepositoryPolicy",
        *(f"ecr:{verb}" for verb in _TAGS),
    ),
    "AWS::ECS::Cluster": (
        "ecs:CreateCluster",
        "ecs:DeleteCluster",
        "ecs:DescribeClusters",
        "ecs:UpdateCluster",
        "ecs:UpdateClusterSettings",
        "ecs:PutClusterCapacityProviders",
        *(f"ecs:{verb}" for verb in _TAGS),
    ),
    "AWS::ECS::TaskDefinition": (
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        *(f"ecs:{verb}" for verb in _TAGS),
    ),
    "AWS::ECS::Service": (
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:DescribeServices",
        *(f"ecs:{verb}" for verb in _TAGS),
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:DescribeTags",
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:DescribeTags",
    ),
    "AWS::ElasticLoadBalancingV2::Listener": (
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",
    ),
    "AWS::IAM::Role": (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:TagRole",
        "iam:UntagRole",
    ),
    "AWS::KMS::Key": (
        "kms:CreateKey",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
        "kms:GetKeyRotationStatus",
        "kms:UpdateKeyDescription",
        "kms:ScheduleKeyDeletion",
        "kms:ListResourceTags",
        "kms:TagResource",
        "kms:UntagResource",
    ),
    "AWS::Logs::LogGroup": (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        *(f"logs:{verb}" for verb in _TAGS),
    ),
    "AWS::Route53::RecordSet": (
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:GetHostedZone",
        "route53:GetChange",
    ),
    "AWS::S3::Bucket": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketVersioning",
        "s3:GetBucketVersioning",
        "s3:PutBucketLogging",
        "s3:GetBucketLogging",
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:PutBucketTagging",
        "s3:GetBucketTagging",
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        # the access logs' replication into the locked bucket (templates/access_logs.py)
        "s3:PutReplicationConfiguration",
        "s3:GetReplicationConfiguration",
    ),
    "AWS::S3::BucketPolicy": ("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
    "AWS::SNS::Topic": (
        "sns:CreateTopic",
        "sns:DeleteTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:ListSubscriptionsByTopic",
        "sns:GetSubscriptionAttributes",
        *(f"sns:{verb}" for verb in _TAGS),
    ),
    "AWS::CloudWatch::Alarm": (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        *(f"cloudwatch:{verb}" for verb in _TAGS),
    ),
    "AWS::CloudWatch::Dashboard": (
        "cloudwatch:PutDashboard",
        "cloudwatch:GetDashboard",
        "cloudwatch:DeleteDashboards",
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:DescribeScalableTargets",
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:DescribeScalingPolicies",
    ),
    "AWS::CertificateManager::Certificate": (
        "acm:RequestCertificate",
        "acm:DeleteCertificate",
        "acm:DescribeCertificate",
        "acm:AddTagsToCertificate",
        "acm:RemoveTagsFromCertificate",
        "acm:ListTagsForCertificate",
    ),
    "AWS::CloudFront::Distribution": (
        "cloudfront:CreateDistribution",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
        "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig",
        *(f"cloudfront:{verb}" for verb in _TAGS),
    ),
    "AWS::CloudFront::OriginAccessControl": (
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl",
        "cloudfront:DeleteOriginAccessControl",
        "cloudfront:GetOriginAccessControl",
        "cloudfront:GetOriginAccessControlConfig",
    ),
}


class UnknownResourceType(ValueError):
    """A stack holds a resource type whose actions this table does not list."""


def actions_for(types: set[str]) -> dict[str, list[Action]]:
    """The actions CloudFormation needs for these resource types, by service prefix, sorted."""
    unknown = sorted(types - set(BY_TYPE))
    if unknown:
        raise UnknownResourceType(
            f"the CloudFormation role would not be allowed to manage {', '.join(unknown)}: "
            f"add its actions to BY_TYPE in {__name__.replace('.', '/')}.py"
        )
    names = sorted({name for kind in types for name in BY_TYPE[kind]})
    by_service: dict[str, list[Action]] = {}
    for name in names:
        prefix, action = name.split(":")
        by_service.setdefault(prefix, []).append(Action(prefix, action))
    return by_service
