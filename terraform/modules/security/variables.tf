variable "name" {
  description = "Name prefix of the security groups, e.g. \"gitops-app-dev\"."
  type        = string
}

variable "vpc_id" {
  description = "VPC the security groups belong to."
  type        = string
}

variable "public_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the public load balancer on 80 and 443. The internet by default; narrow it for a private preview."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.public_ingress_cidrs) > 0 && alltrue([for c in var.public_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "public_ingress_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "frontend_port" {
  description = "Port nginx listens on in the frontend instances."
  type        = number
  default     = 8080

  validation {
    condition     = var.frontend_port > 0 && var.frontend_port < 65536
    error_message = "frontend_port must be a TCP port."
  }
}

variable "backend_port" {
  description = "Port the API container listens on."
  type        = number
  default     = 8080

  validation {
    condition     = var.backend_port > 0 && var.backend_port < 65536
    error_message = "backend_port must be a TCP port."
  }
}

variable "database_port" {
  description = "Port the database listens on (PostgreSQL: 5432)."
  type        = number
  default     = 5432

  validation {
    condition     = var.database_port > 0 && var.database_port < 65536
    error_message = "database_port must be a TCP port."
  }
}
