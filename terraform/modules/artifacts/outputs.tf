output "artifacts_bucket" {
  description = "Name of the artifacts bucket (frontend bundles live under frontend/<version>.tar.gz)."
  value       = aws_s3_bucket.artifacts.bucket
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.artifacts.arn
}

output "access_logs_bucket" {
  description = "Name of the load balancer access log bucket; known only once its delivery policy exists."
  value       = aws_s3_bucket_policy.access_logs.bucket
}
