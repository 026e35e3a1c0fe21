# --- set by the runner on every plan/apply -----------------------------------------------

variable "backend_image" {
  description = "API image pinned by digest, <account>.dkr.ecr.<region>.amazonaws.com/gitops-app/backend@sha256:<64 hex> (the account-level repository of terraform/shared). The default is a placeholder app-stack accepts for planning; the runner always passes the promoted image."
  type        = string
  default     = "registry.invalid/placeholder/api@sha256:0000000000000000000000000000000000000000000000000000000000000000"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[a-f0-9]{64}$", var.backend_image))
    error_message = "backend_image must be pinned by digest: <registry>/<repository>@sha256:<64 lowercase hex digits>."
  }
}

variable "frontend_version" {
  description = "Frontend bundle version (commit SHA) the instances serve from the artifacts bucket."
  type        = string
  default     = "initial"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", var.frontend_version))
    error_message = "frontend_version must be 1-128 letters, digits, '.', '_' or '-'."
  }
}

# --- set in terraform.tfvars --------------------------------------------------------------

variable "project" {
  description = "Short project name, the first part of every resource name."
  type        = string
}

variable "environment" {
  description = "Environment name (dev, staging, prod)."
  type        = string
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "domain" {
  description = "DNS domain of the environment (app.<domain> public, api.<domain> VPC-internal)."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to spread over (at least two)."
  type        = list(string)
}

variable "nat_gateway_mode" {
  description = "\"single\" or \"per_az\" NAT gateways."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
}

variable "public_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the public load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "backend_cpu" {
  description = "Fargate CPU units per API task."
  type        = number
}

variable "backend_memory" {
  description = "Memory per API task in MiB."
  type        = number
}

variable "backend_min_count" {
  description = "Fewest API tasks."
  type        = number
}

variable "backend_max_count" {
  description = "Most API tasks."
  type        = number
}

variable "frontend_instance_type" {
  description = "EC2 instance type of the frontend instances."
  type        = string
}

variable "frontend_ami_id" {
  description = "Pinned AMI of the frontend instances; null follows the latest Amazon Linux 2023."
  type        = string
  default     = null
}

variable "frontend_min_size" {
  description = "Fewest frontend instances."
  type        = number
}

variable "frontend_max_size" {
  description = "Most frontend instances."
  type        = number
}

variable "deletion_protection" {
  description = "Protect the load balancers from deletion."
  type        = bool
  default     = false
}

# --- database (terraform.tfvars) ------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class of the PostgreSQL database."
  type        = string
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB (gp3, at least 20)."
  type        = number
}

variable "db_max_allocated_storage" {
  description = "Upper bound of database storage autoscaling in GiB."
  type        = number
}

variable "db_multi_az" {
  description = "Synchronous standby in a second zone with automatic failover."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Days automated backups and point-in-time recovery reach back (1-35)."
  type        = number
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database instance."
  type        = bool
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot."
  type        = bool
}

variable "db_performance_insights_enabled" {
  description = "Performance Insights (7 days, KMS-encrypted) on the database."
  type        = bool
}

variable "db_connections_alarm_threshold" {
  description = "Database connections above which the alarm fires (below the instance class's max_connections)."
  type        = number
}

# --- edge and tracing (terraform.tfvars) ----------------------------------------------------

variable "waf_mode" {
  description = "AWS WAF on the public ALB: \"count\" (rules only count matches) or \"block\"."
  type        = string
}

variable "waf_rate_limit" {
  description = "Requests one client IP may send in 5 minutes before the WAF rate rule acts."
  type        = number
}

variable "xray_sampling_rate" {
  description = "Share of API requests traced after the first each second (X-Ray sampling rule), 0-1."
  type        = number
}

variable "backend_secret_settings" {
  description = "Names of sensitive API settings read from the secret <project>-<environment>-api/settings (put a key's value there before naming it here)."
  type        = list(string)
  default     = []
}
