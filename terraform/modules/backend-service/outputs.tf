output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the ECS service running the API."
  value       = aws_ecs_service.api.name
}

output "log_group_name" {
  description = "CloudWatch log group of the API containers."
  value       = aws_cloudwatch_log_group.api.name
}

output "alb_arn_suffix" {
  description = "ARN suffix of the internal ALB (CloudWatch dimension)."
  value       = module.alb.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (CloudWatch dimension)."
  value       = module.alb.target_group_arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the internal ALB."
  value       = module.alb.dns_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_arn" {
  description = "ARN (with revision) of the API's task definition, the revision this apply registered."
  value       = aws_ecs_task_definition.api.arn
}

output "task_definition_family" {
  description = "Family of the API's task definition (RunTask with the family starts its latest ACTIVE revision)."
  value       = aws_ecs_task_definition.api.family
}

output "container_name" {
  description = "Name of the API container (the one to override the command of)."
  value       = local.container_name
}

# Everything RunTask needs to start a one-off task of the API (e.g. its migrate command) in
# the service's network with the service's security group: IDs and ARNs only, no secret.
output "run_task" {
  description = "RunTask parameters for a one-off task of the API's task definition: cluster, task definition, container, awsvpc network configuration."
  value = {
    cluster_arn            = aws_ecs_cluster.this.arn
    task_definition_arn    = aws_ecs_task_definition.api.arn
    task_definition_family = aws_ecs_task_definition.api.family
    container_name         = local.container_name
    launch_type            = "FARGATE"
    subnet_ids             = var.private_subnet_ids
    security_group_ids     = [var.task_security_group_id]
    assign_public_ip       = false
  }
}
