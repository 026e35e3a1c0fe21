output "public_zone_id" {
  description = "ID of the public hosted zone of var.domain."
  value       = aws_route53_zone.public.zone_id
}

output "public_zone_name_servers" {
  description = "Name servers of the public zone, to delegate var.domain from its parent zone."
  value       = aws_route53_zone.public.name_servers
}

output "api_private_zone_id" {
  description = "ID of the private hosted zone api.<domain> (VPC-internal)."
  value       = aws_route53_zone.api_private.zone_id
}

output "app_fqdn" {
  description = "Public name of the application, app.<domain>."
  value       = local.app_fqdn
}

output "api_fqdn" {
  description = "VPC-internal name of the API, api.<domain>."
  value       = local.api_fqdn
}

output "app_certificate_arn" {
  description = "ARN of the validated certificate for app.<domain>."
  value       = aws_acm_certificate_validation.this["app"].certificate_arn
}

output "api_certificate_arn" {
  description = "ARN of the validated certificate for api.<domain>."
  value       = aws_acm_certificate_validation.this["api"].certificate_arn
}
