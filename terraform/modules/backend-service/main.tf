# The REST API on ECS Fargate in private subnets, behind an internal HTTPS load balancer
# (nested alb module). Deployments roll back on their own when tasks keep failing.

data "aws_region" "current" {}

locals {
  service_name   = "${var.name}-api"
  container_name = "api"
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = { Name = var.name }
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/ecs/${local.service_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = { Name = local.service_name }
}

# Sensitive settings of the API other than the database credentials: one JSON object, a key per
# setting. Terraform creates the secret empty and never sets its value; an operator puts it
# (docs/infrastructure.md) before naming its keys in secret_settings.
resource "aws_secretsmanager_secret" "settings" {
  name        = "${local.service_name}/settings"
  description = "Sensitive settings of ${local.service_name}: a JSON object, one key per setting; its value is put by an operator, never by Terraform"
  kms_key_id  = var.kms_key_arn

  tags = { Name = "${local.service_name}-settings" }
}

locals {
  collector_name = "otel-collector"

  # Every secret the API gets, by environment variable: var.secrets (the database's) plus one
  # key of the settings secret per name in var.secret_settings.
  task_secrets = merge(
    { for name in var.secret_settings : name => { secret_arn = aws_secretsmanager_secret.settings.arn, json_key = name } },
    var.secrets,
  )
  # The execution role may read exactly these.
  task_secret_arns = distinct([for s in values(local.task_secrets) : s.secret_arn])

  # The ADOT collector sidecar: OTLP from the API on the task's loopback, traces to X-Ray. The
  # awsproxy extension signs the X-Ray remote sampler's calls (GetSamplingRules/Targets) with
  # the task role, at the sampler's default endpoint 127.0.0.1:2000.
  collector_config = yamlencode({
    extensions = {
      health_check = {}
      awsproxy     = { endpoint = "127.0.0.1:2000" }
    }
    receivers = {
      otlp = {
        protocols = {
          grpc = { endpoint = "127.0.0.1:4317" }
          http = { endpoint = "127.0.0.1:4318" }
        }
      }
    }
    processors = {
      resourcedetection = { detectors = ["env", "ecs"], timeout = "2s", override = false }
      batch             = { timeout = "1s", send_batch_size = 50 }
    }
    exporters = {
      awsxray = { region = data.aws_region.current.region }
    }
    service = {
      extensions = ["health_check", "awsproxy"]
      pipelines = {
        traces = { receivers = ["otlp"], processors = ["resourcedetection", "batch"], exporters = ["awsxray"] }
      }
    }
  })

  api_environment = merge(var.environment_variables, {
    PORT              = tostring(var.container_port)
    OTEL_SERVICE_NAME = local.service_name
    # OTLP over HTTP (the collector's 4318): the backend's exporter speaks http/protobuf only.
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4318"
    OTEL_EXPORTER_OTLP_PROTOCOL = "http/protobuf"
    # The OpenTelemetry SDK samples from these; the X-Ray sampling rule below has the same rate for
    # an SDK that uses X-Ray remote sampling instead.
    OTEL_TRACES_SAMPLER     = "parentbased_traceidratio"
    OTEL_TRACES_SAMPLER_ARG = tostring(var.xray_sampling_rate)
  })
}

resource "aws_ecs_task_definition" "api" {
  family                   = local.service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = local.container_name
      image                  = var.image
      essential              = true
      readonlyRootFilesystem = true
      portMappings = [{
        containerPort = var.container_port
        protocol      = "tcp"
      }]
      environment = [for k, v in local.api_environment : { name = k, value = v }]
      # ECS reads these at task start with the execution role (valueFrom: <secret ARN>[:<JSON key>::]).
      secrets = [
        for k, s in local.task_secrets : {
          name      = k
          valueFrom = s.json_key == null ? s.secret_arn : "${s.secret_arn}:${s.json_key}::"
        }
      ]
      dependsOn = [{ containerName = local.collector_name, condition = "START" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api.name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = local.container_name
        }
      }
    },
    {
      # Not essential: without it the API serves on and only traces are lost; ECS restarts it.
      name                   = local.collector_name
      image                  = var.otel_collector_image
      essential              = false
      readonlyRootFilesystem = true
      memoryReservation      = 64
      memory                 = var.otel_collector_memory
      restartPolicy          = { enabled = true, restartAttemptPeriod = 60 }
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api.name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = local.collector_name
        }
      }
    },
  ])

  tags = { Name = local.service_name }
}

# Centralised sampling for this service (X-Ray remote sampler through the collector): the first
# request each second, then fixed_rate of the rest.
resource "aws_xray_sampling_rule" "api" {
  rule_name      = local.service_name
  priority       = 1000
  version        = 1
  reservoir_size = 1
  fixed_rate     = var.xray_sampling_rate
  service_name   = local.service_name
  service_type   = "*"
  host           = "*"
  http_method    = "*"
  url_path       = "*"
  resource_arn   = "*"

  tags = { Name = local.service_name }
}

module "alb" {
  source = "../alb"

  name                   = local.service_name
  internal               = true
  vpc_id                 = var.vpc_id
  subnet_ids             = var.private_subnet_ids
  security_group_ids     = [var.alb_security_group_id]
  certificate_arn        = var.certificate_arn
  redirect_http_to_https = false
  target_type            = "ip"
  target_port            = var.container_port
  health_check_path      = var.health_check_path
  access_logs_bucket     = var.access_logs_bucket
  deletion_protection    = var.deletion_protection

  dns_records = [{ zone_id = var.private_zone_id, name = var.api_fqdn }]
}

resource "aws_ecs_service" "api" {
  name                               = local.service_name
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.api.arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = var.min_capacity
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.task_security_group_id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = module.alb.target_group_arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  tags = { Name = local.service_name }

  lifecycle {
    # Auto scaling owns the running count once the service exists.
    ignore_changes = [desired_count]
  }

  # The target group must be attached to a listener before tasks register with it.
  depends_on = [module.alb]
}
