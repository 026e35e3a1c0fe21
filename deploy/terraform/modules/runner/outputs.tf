output "load_balancer_dns_name" {
  description = "DNS name of the load balancer: point the host of public_url at it (alias record)."
  value       = aws_lb.this.dns_name
}

output "load_balancer_zone_id" {
  description = "Hosted zone of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "webhook_url" {
  description = "The GitHub App's webhook URL."
  value       = "${trimsuffix(var.public_url, "/")}/webhooks/github"
}

output "task_role_arn" {
  description = "The runner's own role (the principal the plan and apply roles trust)."
  value       = aws_iam_role.task.arn
}

output "plan_role_arn" {
  description = "The plan role: plan_role.arn in the runner's repository policy."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "The apply role: apply_role.arn in the runner's repository policy."
  value       = aws_iam_role.apply.arn
}

output "secret_arns" {
  description = "The secrets whose values the operator puts, by the runner's variable name."
  value       = { for k, v in local.secret_variables : v => aws_secretsmanager_secret.runner[k].arn }
}

output "database_endpoint" {
  description = "Address of the runner's PostgreSQL store."
  value       = aws_db_instance.this.address
}

output "kms_key_arn" {
  description = "The key of the runner's secrets, database and logs."
  value       = local.kms_key_arn
}

output "cluster_name" {
  description = "The ECS cluster of the runner's service."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "The runner's ECS service."
  value       = aws_ecs_service.runner.name
}
