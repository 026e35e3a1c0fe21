# The runner's store: PostgreSQL shared by the replicas (runs, logs, locks, the queue). Private,
# encrypted with the module's key, TLS only; RDS generates the master password and keeps it in
# Secrets Manager (manage_master_user_password), from where the tasks read it as PGPASSWORD.

resource "aws_db_subnet_group" "this" {
  name        = "${var.name}-db"
  description = "Private subnets of the GitOps runner's store"
  subnet_ids  = var.private_subnet_ids

  tags = { Name = "${var.name}-db" }
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name}-db-postgres${split(".", var.db_engine_version)[0]}"
  family      = "postgres${split(".", var.db_engine_version)[0]}"
  description = "${var.name}: TLS only"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  tags = { Name = "${var.name}-db" }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS would create the export's log group itself, unencrypted and kept forever.
resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/instance/${var.name}-db/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = { Name = "${var.name}-db" }
}

resource "aws_db_instance" "this" {
  identifier     = "${var.name}-db"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  port           = 5432
  db_name        = "runner"

  username                      = "runner"
  manage_master_user_password   = true
  master_user_secret_kms_key_id = local.kms_key_arn

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = local.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = !var.deletion_protection
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = var.deletion_protection ? "${var.name}-db-final" : null

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql"]

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = local.kms_key_arn
  performance_insights_retention_period = 7

  tags = { Name = "${var.name}-db" }

  depends_on = [aws_cloudwatch_log_group.postgresql]
}
