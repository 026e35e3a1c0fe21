# Two roles, each with only what it needs:
#   - the execution role lets ECS pull from the account-level image repository (ecr_repository_arn,
#     the one repository every environment promotes digests from), write this service's logs and
#     read exactly the secrets the task definition names (decrypting them through Secrets Manager);
#   - the task role is what the containers run as: the collector sidecar writes traces to X-Ray
#     with it, and nothing else, so any AWS access the API gains later is an explicit, reviewed
#     change here.

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

# A separate policy from the one above: the secrets' ARNs are only known once RDS and Secrets
# Manager have created them, while the pull policy stays known at plan time. The resources are
# exactly the secrets the task definition references; the key may be used only by Secrets
# Manager, to decrypt those secrets.
resource "aws_iam_role_policy" "execution_secrets" {
  count = length(local.task_secrets) > 0 ? 1 : 0

  name = "read-task-secrets"
  role = aws_iam_role.execution.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadTheTaskSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.task_secret_arns
      },
      {
        Sid      = "DecryptTheTaskSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
        Condition = {
          StringEquals = {
            "kms:ViaService"                  = "secretsmanager.${data.aws_region.current.region}.amazonaws.com"
            "kms:EncryptionContext:SecretARN" = local.task_secret_arns
          }
        }
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  name               = "${local.service_name}-task"
  description        = "Runtime role of ${local.service_name}: X-Ray trace writes only"
  assume_role_policy = local.ecs_tasks_trust
}

# X-Ray has no resource-level permissions for these actions (IAM requires "*"); the region
# condition keeps them to this environment's region. The same actions as the managed policy
# AWSXRayDaemonWriteAccess, without its GetSamplingStatisticSummaries.
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "task_xray" {
  name = "write-traces"
  role = aws_iam_role.task.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteTracesToXRay"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      Resource = "*"
      Condition = {
        StringEquals = { "aws:RequestedRegion" = data.aws_region.current.region }
      }
    }]
  })
}
