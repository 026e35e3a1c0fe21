output "state_bucket" {
  description = "Bucket for the environments' backend \"s3\" blocks."
  value       = aws_s3_bucket.state.bucket
}

output "lock_table" {
  description = "DynamoDB table for the environments' backend \"s3\" blocks (dynamodb_table)."
  value       = aws_dynamodb_table.locks.name
}

output "kms_key_arn" {
  description = "KMS key encrypting the state bucket and the lock table."
  value       = aws_kms_key.state.arn
}
