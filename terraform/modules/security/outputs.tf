output "public_alb_security_group_id" {
  description = "Security group of the public ALB."
  value       = aws_security_group.public_alb.id
}

output "frontend_security_group_id" {
  description = "Security group of the frontend instances."
  value       = aws_security_group.frontend.id
}

output "internal_alb_security_group_id" {
  description = "Security group of the internal API ALB."
  value       = aws_security_group.internal_alb.id
}

output "backend_security_group_id" {
  description = "Security group of the API tasks."
  value       = aws_security_group.backend.id
}

output "database_security_group_id" {
  description = "Security group of the database (ingress from the API tasks only)."
  value       = aws_security_group.database.id
}
