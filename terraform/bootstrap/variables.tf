variable "region" {
  description = "Region of the state bucket and lock table (the environments' backend.tf names it too)."
  type        = string
  default     = "eu-west-1"
}

variable "state_bucket_name" {
  description = "Name of the S3 bucket holding every environment's state (the environments' backend.tf names it too)."
  type        = string
  default     = "gitops-app-terraform-state"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table for state locks (the environments' backend.tf names it too)."
  type        = string
  default     = "gitops-app-terraform-locks"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "lock_table_name must be a valid DynamoDB table name."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days old state versions are kept (for recovering from a bad apply)."
  type        = number
  default     = 365

  validation {
    condition     = var.noncurrent_version_retention_days >= 30
    error_message = "Keep old state versions at least 30 days."
  }
}
