# Two roles, each with only what it needs:
#   - the execution role lets ECS pull from the account-level image repository (ecr_repository_arn,
#     the one repository every environment promotes digests from) and write this service's logs;
#   - the task role is what the API itself runs as; it holds no permissions today, so any
#     AWS access the API gains later is an explicit, reviewed change here.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # aws_cloudwatch_log_group.api's ARN, known at plan time (its arn attribute is not); the
  # reference to the name still orders the policy after the log group.
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:${aws_cloudwatch_log_group.api.name}"

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role" "execution" {
  name               = "${local.service_name}-execution"
  description        = "ECS task execution role of ${local.service_name}: image pull and logs"
  assume_role_policy = local.ecs_tasks_trust
}

# Wildcards: GetAuthorizationToken has no resource-level permissions, and log streams are
# named per task by ECS, so they are granted within this service's log group only.
# Every value in this policy is known at plan time (the repository ARN comes from a data
# source, the log group ARN is built from its name), so the plan shows the whole policy and
# tests/infra checks that it pulls from exactly the account-level repository.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "execution" {
  name = "pull-image-and-write-logs"
  role = aws_iam_role.execution.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # GetAuthorizationToken has no resource-level permissions; it only hands out a token.
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        Sid      = "PullTheApiImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = var.ecr_repository_arn
      },
      {
        Sid      = "WriteTheServiceLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.log_group_arn}:log-stream:*"
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  name               = "${local.service_name}-task"
  description        = "Runtime role of ${local.service_name}; no AWS permissions granted"
  assume_role_policy = local.ecs_tasks_trust
}
