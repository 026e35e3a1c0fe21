# The runner's service: Fargate tasks spread across the private subnets' zones. The root file
# system is read-only; the data directory (mirrors, work trees, caches: a per-replica cache, see
# the README) and /tmp are volumes on the task's ephemeral storage.

locals {
  # The GitHub App key: the runner reads it from a file only (GITHUB_APP_PRIVATE_KEY_FILE), so the
  # container's shell writes the secret into the data directory (0600, the runner's alone: see
  # SECURITY.md, user mode) and removes it from the environment before the runner starts.
  key_file = "${local.data_dir}/secrets/github-app.pem"
  start = join(" && ", [
    "umask 077",
    "mkdir -p ${local.data_dir}/secrets",
    "printf '%s\\n' \"$GITHUB_APP_PRIVATE_KEY\" >${local.key_file}",
    "unset GITHUB_APP_PRIVATE_KEY",
    "export GITHUB_APP_PRIVATE_KEY_FILE=${local.key_file}",
    "exec /usr/local/bin/runner serve",
  ])

  environment = merge(
    {
      RUNNER_LISTEN          = ":${local.port}"
      RUNNER_DATA_DIR        = local.data_dir
      RUNNER_PUBLIC_URL      = var.public_url
      RUNNER_ALLOWED_REPOS   = join(",", var.allowed_repos)
      RUNNER_LOG_JSON        = "true"
      RUNNER_SANDBOX         = "user"
      GITHUB_APP_ID          = var.github_app_id
      GITHUB_INSTALLATION_ID = var.github_installation_id
      AWS_REGION             = local.region
      # The password comes from RDS's own secret as PGPASSWORD, which pgx reads for a URL without one.
      RUNNER_DATABASE_URL = "postgres://${aws_db_instance.this.username}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${aws_db_instance.this.db_name}?sslmode=require"
    },
    var.slack_enabled && var.slack_channel != "" ? { SLACK_CHANNEL = var.slack_channel } : {},
    # The task's files are the image's: the policies travel in the task definition, as text. Changing
    # them makes a new revision, which the service rolls out like an image.
    var.server_policy != "" ? { RUNNER_REPOS_CONFIG_YAML = var.server_policy } : {},
    length(var.opa_policies) > 0 ? { RUNNER_POLICIES_JSON = jsonencode(var.opa_policies) } : {},
    var.extra_environment,
  )

  secrets = merge(
    { for k, v in local.secret_variables : v => aws_secretsmanager_secret.runner[k].arn },
    { PGPASSWORD = "${aws_db_instance.this.master_user_secret[0].secret_arn}:password::" },
  )
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = { Name = var.name }
}

resource "aws_ecs_task_definition" "runner" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  # Bind mounts without a host path live on the task's ephemeral storage.
  volume {
    name = "data"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name      = "runner"
      image     = var.image
      essential = true
      # Root in the container, default capabilities only: the sandbox runs Terraform as users of
      # its own (SECURITY.md); nothing is added.
      user                   = "0:0"
      readonlyRootFilesystem = true
      entryPoint             = ["/bin/sh", "-c"]
      command                = [local.start]
      portMappings           = [{ containerPort = local.port, protocol = "tcp" }]
      mountPoints = [
        { sourceVolume = "data", containerPath = local.data_dir, readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
      secrets     = [for k in sort(keys(local.secrets)) : { name = k, valueFrom = local.secrets[k] }]
      # SIGTERM gives the stage in flight RUNNER_SHUTDOWN_GRACE (60 s); ECS waits this long.
      stopTimeout = 120
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.runner.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "runner"
        }
      }
    },
  ])

  lifecycle {
    # ECS refuses a task definition over 64 KiB; the policies are most of what can grow.
    precondition {
      condition     = length(var.server_policy) + length(jsonencode(var.opa_policies)) <= 48 * 1024
      error_message = "server_policy and opa_policies together exceed 48 KiB, too much for a task definition (64 KiB in all): bake larger policies into an image and set RUNNER_REPOS_CONFIG or RUNNER_POLICY_DIR in extra_environment."
    }
  }

  tags = { Name = var.name }
}

resource "aws_ecs_service" "runner" {
  name                   = var.name
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.runner.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  platform_version       = "1.4.0"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Replace one replica at a time: the other keeps taking webhooks and resumes what the stopped one
  # abandons (README, "Rolling upgrade").
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 100
  health_check_grace_period_seconds  = 120

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.runner.arn
    container_name   = "runner"
    container_port   = local.port
  }

  tags = { Name = var.name }

  depends_on = [aws_lb_listener.https]
}
