# One environment of the application: network, security groups, encryption key, buckets,
# DNS and certificates, the API on ECS (backend-service -> alb) and its PostgreSQL database,
# the nginx frontend on EC2 (frontend -> alb) behind AWS WAF, and alarms. Environments are thin roots that
# call this module with their own sizes. The image repository is account-level
# (terraform/shared): every environment runs digests from the same repository.

locals {
  name          = "${var.project}-${var.environment}"
  frontend_port = 8080 # nginx on the frontend instances
  backend_port  = 8080 # the API container
  database_port = 5432 # PostgreSQL

  # The environments' default backend_image: lets a configuration be planned before the runner
  # passes a real image (registry.invalid never resolves, so it can never be deployed either).
  placeholder_backend_image = "registry.invalid/placeholder/api@sha256:0000000000000000000000000000000000000000000000000000000000000000"
}

module "kms" {
  source = "../kms"

  name = local.name
}

module "network" {
  source = "../network"

  name                    = local.name
  vpc_cidr                = var.vpc_cidr
  availability_zones      = var.availability_zones
  nat_gateway_mode        = var.nat_gateway_mode
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.kms.key_arn
}

module "security" {
  source = "../security"

  name                 = local.name
  vpc_id               = module.network.vpc_id
  public_ingress_cidrs = var.public_ingress_cidrs
  frontend_port        = local.frontend_port
  backend_port         = local.backend_port
  database_port        = local.database_port
}

module "artifacts" {
  source = "../artifacts"

  name        = local.name
  kms_key_arn = module.kms.key_arn
}

# The runner builds the backend image once, pushes it to this repository and promotes the same
# digest through dev -> staging -> prod, so the environments only look the repository up.
data "aws_ecr_repository" "backend" {
  name = var.ecr_repository_name

  lifecycle {
    postcondition {
      # Only the repository's images can be pulled by the execution role (and be promoted).
      condition     = var.backend_image == local.placeholder_backend_image || startswith(var.backend_image, "${self.repository_url}@sha256:")
      error_message = "backend_image must be an image of the repository ${var.ecr_repository_name} by digest (<repository_url>@sha256:<64 hex>)."
    }
  }
}

module "dns" {
  source = "../dns"

  domain = var.domain
  vpc_id = module.network.vpc_id
}

module "database" {
  source = "../database"

  name                         = local.name
  subnet_ids                   = module.network.private_subnet_ids
  security_group_id            = module.security.database_security_group_id
  kms_key_arn                  = module.kms.key_arn
  port                         = local.database_port
  engine_version               = var.db_engine_version
  instance_class               = var.db_instance_class
  allocated_storage            = var.db_allocated_storage
  max_allocated_storage        = var.db_max_allocated_storage
  multi_az                     = var.db_multi_az
  backup_retention_days        = var.db_backup_retention_days
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = var.db_skip_final_snapshot
  performance_insights_enabled = var.db_performance_insights_enabled
  log_retention_days           = var.log_retention_days
}

module "backend" {
  source = "../backend-service"

  name                   = local.name
  image                  = var.backend_image
  container_port         = local.backend_port
  health_check_path      = "/health"
  cpu                    = var.backend_cpu
  memory                 = var.backend_memory
  min_capacity           = var.backend_min_count
  max_capacity           = var.backend_max_count
  log_retention_days     = var.log_retention_days
  kms_key_arn            = module.kms.key_arn
  ecr_repository_arn     = data.aws_ecr_repository.backend.arn
  vpc_id                 = module.network.vpc_id
  private_subnet_ids     = module.network.private_subnet_ids
  task_security_group_id = module.security.backend_security_group_id
  alb_security_group_id  = module.security.internal_alb_security_group_id
  certificate_arn        = module.dns.api_certificate_arn
  api_fqdn               = module.dns.api_fqdn
  private_zone_id        = module.dns.api_private_zone_id
  access_logs_bucket     = module.artifacts.access_logs_bucket
  deletion_protection    = var.deletion_protection

  environment_variables = {
    ALLOWED_ORIGINS = "https://${module.dns.app_fqdn}"
    LOG_LEVEL       = "info"
    STORE           = "postgres"
    DB_HOST         = module.database.address
    DB_PORT         = tostring(module.database.port)
    DB_NAME         = module.database.db_name
    DB_SSLMODE      = "require" # the server refuses anything else (rds.force_ssl)
  }

  # The master credentials RDS keeps in Secrets Manager, read by ECS at task start.
  secrets = {
    DB_USER     = { secret_arn = module.database.master_user_secret_arn, json_key = "username" }
    DB_PASSWORD = { secret_arn = module.database.master_user_secret_arn, json_key = "password" }
  }
  secret_settings = var.backend_secret_settings

  otel_collector_image = "public.ecr.aws/aws-observability/aws-otel-collector:${var.otel_collector_version}"
  xray_sampling_rate   = var.xray_sampling_rate
}

module "frontend" {
  source = "../frontend"

  name                       = local.name
  frontend_version           = var.frontend_version
  artifacts_bucket           = module.artifacts.artifacts_bucket
  artifacts_bucket_arn       = module.artifacts.artifacts_bucket_arn
  artifacts_kms_key_arn      = module.kms.key_arn
  api_upstream               = "https://${module.dns.api_fqdn}"
  listen_port                = local.frontend_port
  instance_type              = var.frontend_instance_type
  ami_id                     = var.frontend_ami_id
  min_size                   = var.frontend_min_size
  max_size                   = var.frontend_max_size
  vpc_id                     = module.network.vpc_id
  public_subnet_ids          = module.network.public_subnet_ids
  private_subnet_ids         = module.network.private_subnet_ids
  instance_security_group_id = module.security.frontend_security_group_id
  alb_security_group_id      = module.security.public_alb_security_group_id
  certificate_arn            = module.dns.app_certificate_arn
  app_fqdn                   = module.dns.app_fqdn
  public_zone_id             = module.dns.public_zone_id
  access_logs_bucket         = module.artifacts.access_logs_bucket
  deletion_protection        = var.deletion_protection
}

module "waf" {
  source = "../waf"

  name               = local.name
  resource_arn       = module.frontend.alb_arn
  mode               = var.waf_mode
  rate_limit         = var.waf_rate_limit
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "monitoring" {
  source = "../monitoring"

  name              = local.name
  kms_key_arn       = module.kms.key_arn
  frontend_asg_name = module.frontend.asg_name
  ecs_cluster_name  = module.backend.cluster_name
  ecs_service_name  = module.backend.service_name

  database = {
    identifier       = module.database.identifier
    connections_high = var.db_connections_alarm_threshold
    # 10% of the initial storage, at least 2 GiB.
    free_storage_low_bytes = max(2, ceil(var.db_allocated_storage / 10)) * 1073741824
  }

  load_balancers = {
    frontend = {
      lb_arn_suffix           = module.frontend.alb_arn_suffix
      target_group_arn_suffix = module.frontend.target_group_arn_suffix
    }
    api = {
      lb_arn_suffix           = module.backend.alb_arn_suffix
      target_group_arn_suffix = module.backend.target_group_arn_suffix
    }
  }
}
