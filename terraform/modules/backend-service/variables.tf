variable "name" {
  description = "Name prefix, e.g. \"gitops-app-dev\"; the cluster is <name>, the service <name>-api."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 lowercase letters, digits or hyphens (the load balancer name <name>-api must fit in 32)."
  }
}

variable "image" {
  description = "Container image of the API, pinned by digest: <repository>@sha256:<64 hex digits>."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[a-f0-9]{64}$", var.image))
    error_message = "image must be a repository reference pinned by digest, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:<64 hex>."
  }
}

variable "container_port" {
  description = "Port the API listens on in the container."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "HTTP path of the API's health endpoint."
  type        = string
  default     = "/health"
}

variable "environment_variables" {
  description = "Extra plain (non-secret) environment variables for the API container; secrets go in secrets or secret_settings."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment_variables) : !can(regex("(?i)(password|passwd|secret|token|credential|private_?key|api_?key)", k))])
    error_message = "environment_variables must not carry secrets (a name like *PASSWORD*, *SECRET*, *TOKEN*, *CREDENTIAL*, *KEY*): pass them through secrets or secret_settings."
  }
}

variable "secrets" {
  description = "Environment variables of the API container that ECS reads from Secrets Manager at task start, by name: the secret's ARN and, for a JSON secret, the key (e.g. the database's username and password). The execution role may read exactly these secrets."
  type = map(object({
    secret_arn = string
    json_key   = optional(string)
  }))
  default = {}
}

variable "secret_settings" {
  description = "Names of sensitive settings read from this service's settings secret (<name>-api/settings, a JSON object), one environment variable per key. Put the secret's value with the key first: a task cannot start while a named key is missing."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.secret_settings : can(regex("^[A-Z][A-Z0-9_]*$", k))])
    error_message = "secret_settings must be environment variable names (A-Z, 0-9, _)."
  }
}

variable "otel_collector_image" {
  description = "Image of the ADOT collector sidecar, pinned by tag or digest (public.ecr.aws/aws-observability/aws-otel-collector:<version>)."
  type        = string

  validation {
    condition     = can(regex("^public\\.ecr\\.aws/aws-observability/aws-otel-collector(:v[0-9]+\\.[0-9]+\\.[0-9]+)?(@sha256:[a-f0-9]{64})?$", var.otel_collector_image)) && (strcontains(var.otel_collector_image, ":v") || strcontains(var.otel_collector_image, "@sha256:"))
    error_message = "otel_collector_image must be public.ecr.aws/aws-observability/aws-otel-collector pinned by a version tag (:vX.Y.Z) or a digest, never latest."
  }
}

variable "otel_collector_memory" {
  description = "Memory limit of the collector sidecar in MiB (taken from the task's memory)."
  type        = number
  default     = 128

  validation {
    condition     = var.otel_collector_memory >= 64
    error_message = "otel_collector_memory must be at least 64 MiB."
  }
}

variable "xray_sampling_rate" {
  description = "Share of requests traced after the first each second (X-Ray sampling rule fixed_rate, and OTEL_TRACES_SAMPLER_ARG), 0-1."
  type        = number
  default     = 0.05

  validation {
    condition     = var.xray_sampling_rate >= 0 && var.xray_sampling_rate <= 1
    error_message = "xray_sampling_rate must be between 0 and 1."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, 2048, 4096)."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB (must suit the CPU size)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720
    error_message = "memory must be between 512 and 30720 MiB."
  }
}

variable "min_capacity" {
  description = "Fewest running tasks auto scaling may leave; also the initial desired count."
  type        = number
  default     = 2

  validation {
    condition     = var.min_capacity >= 1
    error_message = "min_capacity must be at least 1."
  }
}

variable "max_capacity" {
  description = "Most running tasks auto scaling may start."
  type        = number
  default     = 4

  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 100
    error_message = "max_capacity must be between 1 and 100."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the service scales to hold."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "memory_target_percent" {
  description = "Average memory utilisation the service scales to hold."
  type        = number
  default     = 70

  validation {
    condition     = var.memory_target_percent >= 10 && var.memory_target_percent <= 90
    error_message = "memory_target_percent must be between 10 and 90."
  }
}

variable "log_retention_days" {
  description = "Retention of the API's log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the log group and the settings secret, and that the secrets in var.secrets are encrypted with (the execution role may decrypt them through Secrets Manager)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the one repository the task execution role may pull from (the account-level backend repository)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the service."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks and the internal load balancer, one per availability zone."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets (two availability zones)."
  }
}

variable "task_security_group_id" {
  description = "Security group of the tasks (ingress from the internal ALB only)."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the internal load balancer (ingress from the frontend instances only)."
  type        = string
}

variable "certificate_arn" {
  description = "Validated ACM certificate for the API name, served by the internal ALB."
  type        = string
}

variable "api_fqdn" {
  description = "VPC-internal name of the API, e.g. api.dev.example.com."
  type        = string
}

variable "private_zone_id" {
  description = "Private hosted zone in which api_fqdn is published (alias to the internal ALB)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket for the internal ALB's access logs."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the internal load balancer from deletion."
  type        = bool
  default     = false
}
