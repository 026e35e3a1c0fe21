# The runner's own roles:
#   - the execution role lets ECS pull the image, write the logs and read exactly the secrets the
#     task definition names;
#   - the task role is the runner's own credential chain. It may assume the plan and apply roles
#     (roles.tf) and, in a separate policy, do what the deploy stages do with the runner's own
#     credentials: the runner does not assume a role for image pushes, bundle uploads, ECS waits,
#     migration tasks and instance refreshes (internal/server: loadAWSConfig), so those
#     permissions must be the task role's. Each is scoped to the resources the caller lists.

locals {
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${aws_cloudwatch_log_group.runner.name}"

  # The image's repository, when it is in ECR: <account>.dkr.ecr.<region>.amazonaws.com/<name>[@:]...
  image_ecr = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^@:]+)", var.image), null)
  image_repository_arn = local.image_ecr == null ? null : (
    "arn:${local.partition}:ecr:${local.image_ecr[1]}:${local.image_ecr[0]}:repository/${local.image_ecr[2]}"
  )

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS task execution role of the GitOps runner: image pull, logs, its secrets"
  assume_role_policy = local.ecs_tasks_trust

  tags = { Name = "${var.name}-execution" }
}

# Wildcards: GetAuthorizationToken has no resource-level permissions, and log streams are named
# per task by ECS, so they are granted within the runner's log group only.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "execution" {
  name = "pull-image-write-logs-read-secrets"
  role = aws_iam_role.execution.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.image_repository_arn == null ? [] : [
        {
          Sid      = "EcrLogin"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = "*"
        },
        {
          Sid      = "PullTheRunnerImage"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = local.image_repository_arn
        },
      ],
      [
        {
          Sid      = "WriteTheRunnerLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${local.log_group_arn}:log-stream:*"
        },
        {
          # Exactly the secrets the task definition names.
          Sid      = "ReadTheRunnerSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = concat([for s in aws_secretsmanager_secret.runner : s.arn], [aws_db_instance.this.master_user_secret[0].secret_arn])
        },
        {
          Sid       = "DecryptThemThroughSecretsManager"
          Effect    = "Allow"
          Action    = ["kms:Decrypt"]
          Resource  = local.kms_key_arn
          Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
        },
      ],
    )
  })
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "The GitOps runner's own credentials: assumes the plan and apply roles, runs the deploy stages"
  assume_role_policy = local.ecs_tasks_trust

  tags = { Name = "${var.name}-task" }
}

resource "aws_iam_role_policy" "task_assume" {
  name = "assume-plan-and-apply-roles"
  role = aws_iam_role.task.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "AssumeThePlanAndApplyRoles"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole"]
      Resource = [aws_iam_role.plan.arn, aws_iam_role.apply.arn]
    }]
  })
}

locals {
  ecs_cluster_names = [for a in var.deploy_ecs_cluster_arns : element(split("/", a), 1)]
  ecs_arn_prefix    = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"

  deploy_statements = concat(
    [for s in [
      {
        # GetAuthorizationToken has no resource-level permissions; it only hands out a token.
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        Sid    = "PushAppImages"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
          "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
          "ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:DescribeRepositories",
        ]
        Resource = var.deploy_ecr_repository_arns
      },
    ] : s if length(var.deploy_ecr_repository_arns) > 0],
    [for s in [
      {
        Sid      = "UploadFrontendBundles"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject"]
        Resource = concat(var.deploy_bundle_bucket_arns, [for b in var.deploy_bundle_bucket_arns : "${b}/*"])
      },
    ] : s if length(var.deploy_bundle_bucket_arns) > 0],
    [for s in [
      {
        Sid      = "StartAndCancelInstanceRefreshes"
        Effect   = "Allow"
        Action   = ["autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh"]
        Resource = var.deploy_autoscaling_group_arns
      },
      {
        # Describe calls of Auto Scaling have no resource-level permissions.
        Sid      = "FollowInstanceRefreshes"
        Effect   = "Allow"
        Action   = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes"]
        Resource = "*"
      },
    ] : s if length(var.deploy_autoscaling_group_arns) > 0],
    [for s in [
      {
        Sid      = "WaitForServices"
        Effect   = "Allow"
        Action   = ["ecs:DescribeServices"]
        Resource = [for c in local.ecs_cluster_names : "${local.ecs_arn_prefix}:service/${c}/*"]
      },
      {
        # Task definitions: Describe, Register and Deregister have no resource-level permissions.
        Sid      = "MigrationTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"]
        Resource = "*"
      },
      {
        Sid       = "RunMigrationTasks"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = "${local.ecs_arn_prefix}:task-definition/*"
        Condition = { ArnEquals = { "ecs:cluster" = var.deploy_ecs_cluster_arns } }
      },
      {
        Sid      = "FollowMigrationTasks"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTasks", "ecs:StopTask"]
        Resource = [for c in local.ecs_cluster_names : "${local.ecs_arn_prefix}:task/${c}/*"]
      },
    ] : s if length(var.deploy_ecs_cluster_arns) > 0],
    [for s in [
      {
        Sid       = "PassTheAppsTaskRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = var.deploy_pass_role_arns
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
    ] : s if length(var.deploy_pass_role_arns) > 0],
  )
}

# Wildcards: the few calls without resource-level permissions (ECR login, Auto Scaling describes,
# task definition calls), and per-cluster services and tasks, whose names the environments choose.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "task_deploy" {
  count = length(local.deploy_statements) > 0 ? 1 : 0

  name = "deploy-stages"
  role = aws_iam_role.task.id

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.deploy_statements
  })
}
