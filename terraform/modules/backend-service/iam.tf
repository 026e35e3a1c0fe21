# Two roles, each with only what it needs:
#   - the execution role lets ECS pull this repository's image and write this service's logs;
#   - the task role is what the API itself runs as; it holds no permissions today, so any
#     AWS access the API gains later is an explicit, reviewed change here.

data "aws_caller_identity" "current" {}

locals {
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
        Resource = "${aws_cloudwatch_log_group.api.arn}:log-stream:*"
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  name               = "${local.service_name}-task"
  description        = "Runtime role of ${local.service_name}; no AWS permissions granted"
  assume_role_policy = local.ecs_tasks_trust
}
