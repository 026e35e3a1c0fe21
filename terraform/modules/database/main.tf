# The API's PostgreSQL database: one RDS instance in the private subnets, reachable only from
# the API tasks' security group, encrypted at rest with the environment's key and in transit
# (rds.force_ssl). RDS generates the master password and keeps it in Secrets Manager
# (manage_master_user_password), so no password is ever in a variable, the plan or the state.

locals {
  identifier    = "${var.name}-db"
  major_version = split(".", var.engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name        = local.identifier
  description = "Private subnets of ${var.name}'s database"
  subnet_ids  = var.subnet_ids

  tags = { Name = local.identifier }
}

# A new major version needs a new family, hence a new group (created before the old one goes).
resource "aws_db_parameter_group" "this" {
  name        = "${local.identifier}-postgres${local.major_version}"
  family      = "postgres${local.major_version}"
  description = "${local.identifier}: TLS only"

  # Connections without TLS are refused (the default from PostgreSQL 15 on; explicit here).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  tags = { Name = local.identifier }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS would create the export's log group itself, unencrypted and kept forever.
resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/instance/${local.identifier}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = { Name = local.identifier }
}

resource "aws_db_instance" "this" {
  identifier     = local.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  port           = var.port
  db_name        = var.db_name

  username                      = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = !var.deletion_protection
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${local.identifier}-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql"]

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? var.kms_key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null

  tags = { Name = local.identifier }

  depends_on = [aws_cloudwatch_log_group.postgresql]

  lifecycle {
    precondition {
      condition     = var.max_allocated_storage >= var.allocated_storage
      error_message = "max_allocated_storage must be at least allocated_storage."
    }
  }
}
