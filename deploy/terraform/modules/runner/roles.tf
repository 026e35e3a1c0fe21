# The roles the runner assumes for Terraform (SECURITY.md, "What the operator sets up"): a plan
# role that reads, an apply role that changes what the environments hold. Each trusts only the
# runner's task role, with an external ID (the repository policy's plan_role/apply_role
# external_id; the runner names its sessions runner-<phase>-<repo>-pr<N>-<env>-r<run>, and sets no
# session tags or source identity, so the trust policies grant sts:AssumeRole alone).

locals {
  state_bucket_arn = "arn:${local.partition}:s3:::${var.state_bucket}"
  lock_table_arn   = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.lock_table}"
  state_objects    = [for p in var.state_key_prefixes : "${local.state_bucket_arn}/${p}*"]

  # The only managed policy any role here gets: AWS's read-only policy, for the plan role.
  read_only_policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan_trust" {
  statement {
    sid     = "TheRunnerWithItsExternalId"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.task.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.plan_external_id]
    }
  }
}

data "aws_iam_policy_document" "apply_trust" {
  statement {
    sid     = "TheRunnerWithItsExternalId"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.task.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.apply_external_id]
    }
  }
}

# --- plan ------------------------------------------------------------------------------------------

resource "aws_iam_role" "plan" {
  name                 = "${var.name}-plan"
  description          = "Terraform plans by the GitOps runner: read-only, state read, lock table"
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600

  tags = { Name = "${var.name}-plan" }
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = local.read_only_policy_arn
}

# Wildcard: the state objects under the environments' key prefixes.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "plan_state" {
  name = "read-state-lock-table"
  role = aws_iam_role.plan.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListTheStateBucket"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = local.state_bucket_arn
      },
      {
        Sid      = "ReadTheState"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = local.state_objects
      },
      {
        Sid       = "DecryptTheState"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = var.state_kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" } }
      },
      {
        # Plans take the state lock: the lock item is the one write a plan makes.
        Sid      = "TakeTheStateLock"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        Resource = local.lock_table_arn
      },
    ]
  })
}

# --- apply -----------------------------------------------------------------------------------------

locals {
  # The services the environments' Terraform manages (terraform/modules/*). Each gets its whole
  # action set: the environments create, change and delete resources of every kind in them, and
  # most of these services cannot scope creation by tag. This is the broad part of the role,
  # documented in the README; what limits it is the list itself and the denies below.
  apply_services = [
    "acm", "application-autoscaling", "autoscaling", "cloudwatch", "ec2", "ecr", "ecs",
    "elasticloadbalancing", "kms", "logs", "rds", "route53", "s3", "secretsmanager", "sns", "wafv2",
    "xray",
  ]

  iam_prefix_arns = [
    "arn:${local.partition}:iam::${local.account_id}:role/${var.managed_name_prefix}*",
    "arn:${local.partition}:iam::${local.account_id}:instance-profile/${var.managed_name_prefix}*",
    "arn:${local.partition}:iam::${local.account_id}:policy/${var.managed_name_prefix}*",
  ]
}

resource "aws_iam_role" "apply" {
  name                 = "${var.name}-apply"
  description          = "Terraform applies by the GitOps runner: the environments' services, IAM under a name prefix"
  assume_role_policy   = data.aws_iam_policy_document.apply_trust.json
  max_session_duration = 7200

  tags = { Name = "${var.name}-apply" }
}

# Wildcards: the environments' services (see apply_services), IAM under the environments' name
# prefix, and the state objects. The statements that deny name the runner's own resources.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "apply" {
  name = "manage-the-environments"
  role = aws_iam_role.apply.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "TheEnvironmentsServices"
        Effect   = "Allow"
        Action   = [for s in local.apply_services : "${s}:*"]
        Resource = "*"
      },
      {
        Sid      = "ReadIAMAndSSMParameters"
        Effect   = "Allow"
        Action   = ["iam:Get*", "iam:List*", "ssm:GetParameter", "ssm:GetParameters"]
        Resource = "*"
      },
      {
        # Roles, instance profiles and policies of the environments, by name prefix only.
        Sid      = "TheEnvironmentsIAM"
        Effect   = "Allow"
        Action   = ["iam:*"]
        Resource = local.iam_prefix_arns
      },
      {
        Sid       = "ServiceLinkedRoles"
        Effect    = "Allow"
        Action    = ["iam:CreateServiceLinkedRole"]
        Resource  = "*"
        Condition = { StringLike = { "iam:AWSServiceName" = ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "autoscaling.amazonaws.com", "rds.amazonaws.com", "ecs.application-autoscaling.amazonaws.com"] } }
      },
      {
        Sid      = "ReadAndWriteTheState"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = concat([local.state_bucket_arn, local.lock_table_arn, var.state_kms_key_arn], local.state_objects)
      },
      {
        # The prefix lets the environments make roles; it must not let them make administrators.
        Sid       = "NoAdministratorPolicies"
        Effect    = "Deny"
        Action    = ["iam:AttachRolePolicy"]
        Resource  = "*"
        Condition = { ArnLike = { "iam:PolicyARN" = ["arn:${local.partition}:iam::aws:policy/AdministratorAccess", "arn:${local.partition}:iam::aws:policy/IAMFullAccess", "arn:${local.partition}:iam::aws:policy/PowerUserAccess"] } }
      },
      {
        # The state bucket itself: its objects change, the bucket and its protections do not.
        Sid    = "KeepTheStateBucket"
        Effect = "Deny"
        Action = [
          "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketVersioning",
          "s3:PutLifecycleConfiguration", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
          "s3:DeleteObjectVersion",
        ]
        Resource = [local.state_bucket_arn, "${local.state_bucket_arn}/*"]
      },
      {
        # The runner's own resources are this module's, changed by people, not by deploys.
        Sid    = "KeepTheRunner"
        Effect = "Deny"
        Action = ["*"]
        Resource = concat(
          [for s in aws_secretsmanager_secret.runner : s.arn],
          [
            aws_db_instance.this.arn, aws_ecs_cluster.this.arn, aws_ecs_service.runner.id, aws_lb.this.arn,
            aws_cloudwatch_log_group.runner.arn, aws_iam_role.task.arn, aws_iam_role.execution.arn,
            aws_iam_role.plan.arn, aws_iam_role.apply.arn, local.kms_key_arn,
          ],
        )
      },
    ]
  })
}
