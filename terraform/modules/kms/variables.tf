variable "name" {
  description = "Name prefix of the key's alias, e.g. \"gitops-app-dev\" gives alias/gitops-app-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,200}$", var.name))
    error_message = "name may contain only letters, digits, '/', '_' and '-'."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a deleted key is destroyed (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}
