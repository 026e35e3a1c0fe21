variable "name" {
  description = "Name prefix of the buckets, e.g. \"gitops-app-dev\". The account ID is appended for global uniqueness."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or hyphens."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the artifacts bucket (SSE-KMS with an S3 bucket key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted artifact version is kept before it expires."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days load balancer access logs are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}
