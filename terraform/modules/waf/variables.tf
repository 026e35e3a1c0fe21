variable "name" {
  description = "Name prefix, e.g. \"gitops-app-dev\"; the web ACL is <name>-public, its log group aws-waf-logs-<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "resource_arn" {
  description = "ARN of the regional resource to protect (the public ALB)."
  type        = string
}

variable "mode" {
  description = "\"count\": rules only count their matches (tuning, dev); \"block\": managed groups apply their own actions and the rate limit blocks."
  type        = string
  default     = "block"

  validation {
    condition     = contains(["count", "block"], var.mode)
    error_message = "mode must be \"count\" or \"block\"."
  }
}

variable "rate_limit" {
  description = "Requests one client IP may send in any 5-minute window before the rate rule acts (10 to 2,000,000,000)."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit must be between 10 and 2,000,000,000."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the log group (its policy must let CloudWatch Logs use it)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the WAF log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports."
  }
}
