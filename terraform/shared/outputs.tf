output "ecr_repository_name" {
  description = "Name of the backend image repository (app-stack's ecr_repository_name)."
  value       = module.ecr.repository_name
}

output "ecr_repository_url" {
  description = "URL the runner pushes the backend image to; backend_image is <this>@sha256:<digest>."
  value       = module.ecr.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the backend image repository (the environments' execution roles may pull only from it)."
  value       = module.ecr.repository_arn
}

output "images_kms_key_arn" {
  description = "KMS key encrypting the repository's images."
  value       = aws_kms_key.images.arn
}
