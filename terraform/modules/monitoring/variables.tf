variable "name" {
  description = "Name prefix of the topic and alarms, e.g. \"gitops-app-dev\"."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the alarm topic (its policy must let CloudWatch use it)."
  type        = string
}

variable "frontend_asg_name" {
  description = "Auto Scaling group of the frontend instances."
  type        = string
}

variable "ecs_cluster_name" {
  description = "ECS cluster of the API."
  type        = string
}

variable "ecs_service_name" {
  description = "ECS service of the API."
  type        = string
}

variable "load_balancers" {
  description = "Load balancers to watch, by a short static key (e.g. \"frontend\", \"api\"): ARN suffixes of the ALB and of its target group."
  type = map(object({
    lb_arn_suffix           = string
    target_group_arn_suffix = string
  }))
}

variable "cpu_high_percent" {
  description = "Average CPU utilisation above which the CPU alarms fire."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_high_percent > 0 && var.cpu_high_percent <= 100
    error_message = "cpu_high_percent must be between 1 and 100."
  }
}

variable "target_5xx_threshold" {
  description = "5xx responses from targets per 5 minutes above which the 5xx alarms fire."
  type        = number
  default     = 10

  validation {
    condition     = var.target_5xx_threshold >= 0
    error_message = "target_5xx_threshold must not be negative."
  }
}

variable "database" {
  description = "The RDS instance to watch (null: none): its identifier, the connection count and the free storage (bytes) at which to alarm."
  type = object({
    identifier             = string
    connections_high       = number
    free_storage_low_bytes = number
  })
  default = null
}
