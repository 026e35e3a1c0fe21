output "identifier" {
  description = "DB instance identifier (the DBInstanceIdentifier dimension of its CloudWatch metrics)."
  value       = aws_db_instance.this.identifier
}

output "arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Host name of the DB instance (resolves to its private address; the standby's after a failover)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port the database listens on."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Name of the database the API uses."
  value       = aws_db_instance.this.db_name
}

# The ARN only: the secret's value (JSON keys username and password) is read by ECS at task start.
output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master credentials in (JSON: username, password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "subnet_group_name" {
  description = "DB subnet group of the instance."
  value       = aws_db_subnet_group.this.name
}
