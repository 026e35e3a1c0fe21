module "app_stack" {
  source = "../../terraform/modules/app-stack"

  project     = var.project
  environment = var.environment
  domain      = var.domain

  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  nat_gateway_mode     = var.nat_gateway_mode
  log_retention_days   = var.log_retention_days
  public_ingress_cidrs = var.public_ingress_cidrs

  backend_image     = var.backend_image
  backend_cpu       = var.backend_cpu
  backend_memory    = var.backend_memory
  backend_min_count = var.backend_min_count
  backend_max_count = var.backend_max_count

  frontend_version       = var.frontend_version
  frontend_instance_type = var.frontend_instance_type
  frontend_ami_id        = var.frontend_ami_id
  frontend_min_size      = var.frontend_min_size
  frontend_max_size      = var.frontend_max_size

  deletion_protection = var.deletion_protection
}
