# The runner reads these after every apply (docs/infrastructure.md, "Deployments"); keep the names.

output "ecs_cluster_name" {
  description = "ECS cluster of the API."
  value       = module.app_stack.ecs_cluster_name
}

output "ecs_service_name" {
  description = "ECS service of the API."
  value       = module.app_stack.ecs_service_name
}

output "frontend_asg_name" {
  description = "Auto Scaling group of the frontend instances."
  value       = module.app_stack.frontend_asg_name
}

output "artifacts_bucket" {
  description = "Bucket for frontend bundles (frontend/<version>.tar.gz)."
  value       = module.app_stack.artifacts_bucket
}

output "ecr_repository_url" {
  description = "Account-level ECR repository of the API image (created by terraform/shared, read here)."
  value       = module.app_stack.ecr_repository_url
}

output "app_url" {
  description = "Public URL of the application."
  value       = module.app_stack.app_url
}

output "api_url" {
  description = "API base URL as the browser reaches it (https://app.<domain>/api, proxied to the internal API)."
  value       = module.app_stack.api_url
}

output "internal_api_url" {
  description = "VPC-internal URL of the API (https://api.<domain>)."
  value       = module.app_stack.internal_api_url
}

output "public_zone_name_servers" {
  description = "Name servers to delegate the environment's domain to."
  value       = module.app_stack.public_zone_name_servers
}

# Read by the runner to run the API's migrate command as a one-off ECS task (RunTask with the
# container's command overridden) before the service rollout. IDs and ARNs only.
output "migration" {
  description = "RunTask parameters: cluster_arn, task_definition_arn, task_definition_family, container_name, launch_type, subnet_ids, security_group_ids, assign_public_ip."
  value       = module.app_stack.migration
}

output "database_endpoint" {
  description = "Host name and port of the PostgreSQL database (reachable from the API tasks only)."
  value       = module.app_stack.database_endpoint
}

output "waf_web_acl_name" {
  description = "AWS WAF web ACL of the public load balancer."
  value       = module.app_stack.waf_web_acl_name
}
