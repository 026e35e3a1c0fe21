output "webhook_url" {
  description = "The GitHub App's webhook URL."
  value       = module.runner.webhook_url
}

output "load_balancer_dns_name" {
  description = "Point the host of public_url at this name."
  value       = module.runner.load_balancer_dns_name
}

output "plan_role_arn" {
  description = "plan_role.arn for the runner's repository policy."
  value       = module.runner.plan_role_arn
}

output "apply_role_arn" {
  description = "apply_role.arn for the runner's repository policy."
  value       = module.runner.apply_role_arn
}

output "secret_arns" {
  description = "The secrets to put values into before the service starts."
  value       = module.runner.secret_arns
}
