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

  container_definitions = jsonencode([{
    name                   = local.container_name
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    portMappings = [{
      containerPort = var.container_port
      protocol      = "tcp"
    }]
    environment = [
      for k, v in merge(var.environment_variables, { PORT = tostring(var.container_port) }) : { name = k, value = v }
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.api.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = local.container_name
      }
    }
  }])

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
