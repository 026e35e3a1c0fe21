output "ecs_cluster_name" {
  description = "ECS cluster of the API."
  value       = module.backend.cluster_name
}

output "ecs_service_name" {
  description = "ECS service of the API."
  value       = module.backend.service_name
}

output "frontend_asg_name" {
  description = "Auto Scaling group of the frontend instances."
  value       = module.frontend.asg_name
}

output "artifacts_bucket" {
  description = "Bucket the runner uploads frontend bundles to (frontend/<version>.tar.gz)."
  value       = module.artifacts.artifacts_bucket
}

output "ecr_repository_url" {
  description = "Account-level ECR repository of the API image (terraform/shared); backend_image is <this>@sha256:<digest>."
  value       = data.aws_ecr_repository.backend.repository_url
}

output "app_url" {
  description = "Public URL of the application."
  value       = "https://${module.dns.app_fqdn}"
}

output "api_url" {
  description = "API base URL as the browser uses it: the frontend's origin, /api/ proxied by nginx to the internal API."
  value       = "https://${module.dns.app_fqdn}/api"
}

output "internal_api_url" {
  description = "VPC-internal URL of the API (internal ALB); resolves only inside the VPC."
  value       = "https://${module.dns.api_fqdn}"
}

output "public_zone_name_servers" {
  description = "Name servers to delegate the environment's domain to."
  value       = module.dns.public_zone_name_servers
}

output "alarm_topic_arn" {
  description = "SNS topic of the environment's alarms."
  value       = module.monitoring.alarm_topic_arn
}

# For the runner: run the API image's migrate command as a one-off Fargate task before the
# service rollout (docs/infrastructure.md, "Database migrations"). IDs and ARNs only.
output "migration" {
  description = "RunTask parameters of a one-off task of the API's task definition: cluster_arn, task_definition_arn, task_definition_family, container_name, launch_type, subnet_ids, security_group_ids, assign_public_ip."
  value       = module.backend.run_task
}

output "database_endpoint" {
  description = "Host name and port of the PostgreSQL database (reachable from the API tasks only)."
  value       = "${module.database.address}:${module.database.port}"
}

output "waf_web_acl_name" {
  description = "AWS WAF web ACL of the public load balancer."
  value       = module.waf.web_acl_name
}
