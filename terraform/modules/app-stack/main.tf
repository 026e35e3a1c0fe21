# One environment of the application: network, security groups, encryption key, buckets,
# image repository, DNS and certificates, the API on ECS (backend-service -> alb), the
# nginx frontend on EC2 (frontend -> alb) and alarms. Environments are thin roots that
# call this module with their own sizes.

locals {
  name          = "${var.project}-${var.environment}"
  frontend_port = 8080 # nginx on the frontend instances
  backend_port  = 8080 # the API container
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
}

module "artifacts" {
  source = "../artifacts"

  name        = local.name
  kms_key_arn = module.kms.key_arn
}

module "ecr" {
  source = "../ecr"

  name        = "${local.name}/api"
  kms_key_arn = module.kms.key_arn
}

module "dns" {
  source = "../dns"

  domain = var.domain
  vpc_id = module.network.vpc_id
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
  ecr_repository_arn     = module.ecr.repository_arn
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
  }
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

module "monitoring" {
  source = "../monitoring"

  name              = local.name
  kms_key_arn       = module.kms.key_arn
  frontend_asg_name = module.frontend.asg_name
  ecs_cluster_name  = module.backend.cluster_name
  ecs_service_name  = module.backend.service_name

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
