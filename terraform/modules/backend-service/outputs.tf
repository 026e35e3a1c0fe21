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
