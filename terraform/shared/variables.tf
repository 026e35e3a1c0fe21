variable "region" {
  description = "Region of the shared resources; the same as the environments' (ECS pulls from the repository in its own region)."
  type        = string
  default     = "eu-west-1"
}

variable "project" {
  description = "Short project name, the first part of the shared resources' names and the Project tag."
  type        = string
  default     = "gitops-app"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,12}$", var.project))
    error_message = "project must be 2-13 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "repository_name" {
  description = "Name of the account's backend image repository; app-stack's ecr_repository_name must be the same."
  type        = string
  default     = "gitops-app/backend"
}

variable "keep_image_count" {
  description = "Images the lifecycle policy keeps, newest first. Every environment's running image (prod promotes older digests than dev) and its rollback targets must be among them."
  type        = number
  default     = 200
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (interrupted or superseded pushes) expire."
  type        = number
  default     = 14
}
