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

  db_instance_class               = var.db_instance_class
  db_allocated_storage            = var.db_allocated_storage
  db_max_allocated_storage        = var.db_max_allocated_storage
  db_multi_az                     = var.db_multi_az
  db_backup_retention_days        = var.db_backup_retention_days
  db_deletion_protection          = var.db_deletion_protection
  db_skip_final_snapshot          = var.db_skip_final_snapshot
  db_performance_insights_enabled = var.db_performance_insights_enabled
  db_connections_alarm_threshold  = var.db_connections_alarm_threshold

  waf_mode       = var.waf_mode
  waf_rate_limit = var.waf_rate_limit

  xray_sampling_rate      = var.xray_sampling_rate
  backend_secret_settings = var.backend_secret_settings
}
