variable "name" {
  description = "Repository name, e.g. \"gitops-app/backend\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lowercase, digits, '.', '_', '-', '/')."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images at rest."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "keep_image_count" {
  description = "How many images the lifecycle policy keeps (newest first). Images that are still deployed must be among them."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_image_count >= 10
    error_message = "keep_image_count must be at least 10, so rollbacks stay possible."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (failed or superseded pushes) expire."
  type        = number
  default     = 14

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}
