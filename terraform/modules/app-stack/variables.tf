variable "project" {
  description = "Short project name, the first part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,12}$", var.project))
    error_message = "project must be 2-13 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "domain" {
  description = "DNS domain of the environment; the app is served at app.<domain>, the API resolves as api.<domain> inside the VPC."
  type        = string
}

# --- network ---------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to use (at least two); one public and one private subnet each."
  type        = list(string)
}

variable "nat_gateway_mode" {
  description = "\"single\" (one NAT gateway, cost-saving) or \"per_az\" (one per availability zone)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the flow log and API log groups, in days."
  type        = number
  default     = 30
}

variable "public_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the public load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- backend -----------------------------------------------------------------------------

variable "backend_image" {
  description = "API image pinned by digest (<ecr_repository_url>@sha256:<digest>), set by the runner on each deployment; must be in ecr_repository_name."
  type        = string
}

variable "ecr_repository_name" {
  description = "Account-level ECR repository (created by terraform/shared) the API image comes from; the execution role may pull only from it."
  type        = string
  default     = "gitops-app/backend"

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.ecr_repository_name)) && length(var.ecr_repository_name) <= 256
    error_message = "ecr_repository_name must be a valid ECR repository name (lowercase, digits, '.', '_', '-', '/')."
  }
}

variable "backend_cpu" {
  description = "Fargate CPU units per API task."
  type        = number
  default     = 256
}

variable "backend_memory" {
  description = "Memory per API task in MiB."
  type        = number
  default     = 512
}

variable "backend_min_count" {
  description = "Fewest API tasks."
  type        = number
  default     = 2
}

variable "backend_max_count" {
  description = "Most API tasks."
  type        = number
  default     = 4
}

variable "backend_secret_settings" {
  description = "Names of sensitive API settings read from the settings secret <project>-<environment>-api/settings (a JSON object an operator fills; put a key's value before naming it here)."
  type        = list(string)
  default     = []
}

variable "otel_collector_version" {
  description = "Version tag of the ADOT collector sidecar image (public.ecr.aws/aws-observability/aws-otel-collector)."
  type        = string
  default     = "v0.48.0"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+$", var.otel_collector_version))
    error_message = "otel_collector_version must be a release tag such as v0.48.0 (never latest)."
  }
}

variable "xray_sampling_rate" {
  description = "Share of API requests traced after the first each second (X-Ray sampling rule), 0-1."
  type        = number
  default     = 0.05
}

# --- database ----------------------------------------------------------------------------

variable "db_engine_version" {
  description = "PostgreSQL version of the database: a major (newest minor, minor upgrades in maintenance windows) or major.minor."
  type        = string
  default     = "17"
}

variable "db_instance_class" {
  description = "RDS instance class of the database."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB (gp3)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Upper bound of database storage autoscaling in GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Run a synchronous standby in a second zone with automatic failover."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days automated backups and point-in-time recovery reach back (1-35)."
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database instance."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot."
  type        = bool
  default     = false
}

variable "db_performance_insights_enabled" {
  description = "Performance Insights (7 days, KMS-encrypted) on the database."
  type        = bool
  default     = false
}

variable "db_connections_alarm_threshold" {
  description = "Database connections above which the alarm fires (keep it below the instance class's max_connections)."
  type        = number
  default     = 150
}

# --- edge --------------------------------------------------------------------------------

variable "waf_mode" {
  description = "AWS WAF on the public ALB: \"count\" (rules only count, for tuning) or \"block\"."
  type        = string
  default     = "block"
}

variable "waf_rate_limit" {
  description = "Requests one client IP may send to the public ALB in 5 minutes before WAF acts."
  type        = number
  default     = 2000
}

# --- frontend ----------------------------------------------------------------------------

variable "frontend_version" {
  description = "Frontend bundle version the instances serve, set by the runner on each deployment."
  type        = string
}

variable "frontend_instance_type" {
  description = "EC2 instance type of the frontend instances."
  type        = string
  default     = "t3.small"
}

variable "frontend_ami_id" {
  description = "Pinned AMI of the frontend instances; null follows the latest Amazon Linux 2023."
  type        = string
  default     = null
}

variable "frontend_min_size" {
  description = "Fewest frontend instances."
  type        = number
  default     = 2
}

variable "frontend_max_size" {
  description = "Most frontend instances."
  type        = number
  default     = 4
}

variable "deletion_protection" {
  description = "Protect the load balancers from deletion (production)."
  type        = bool
  default     = false
}
