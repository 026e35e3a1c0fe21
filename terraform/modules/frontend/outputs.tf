output "asg_name" {
  description = "Name of the frontend Auto Scaling group (the runner starts instance refreshes on it)."
  value       = aws_autoscaling_group.this.name
}

output "launch_template_id" {
  description = "ID of the frontend launch template."
  value       = aws_launch_template.this.id
}

output "launch_template_version" {
  description = "Launch template version the Auto Scaling group uses."
  value       = aws_launch_template.this.latest_version
}

output "alb_arn_suffix" {
  description = "ARN suffix of the public ALB (CloudWatch dimension)."
  value       = module.alb.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the frontend target group (CloudWatch dimension)."
  value       = module.alb.target_group_arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = module.alb.dns_name
}

output "alb_arn" {
  description = "ARN of the public ALB (the WAF web ACL is associated with it)."
  value       = module.alb.arn
}
