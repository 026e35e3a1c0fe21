variable "name" {
  description = "Name of the load balancer and its target group (at most 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,30}[a-zA-Z0-9]$", var.name))
    error_message = "name must be 2-32 letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "internal" {
  description = "true: internal load balancer reachable only inside the VPC. false: internet-facing."
  type        = bool
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the load balancer, one per availability zone (public subnets for an internet-facing one)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the load balancer."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give the load balancer at least one security group."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener (validated)."
  type        = string
}

variable "ssl_policy" {
  description = "TLS security policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-* or ELBSecurityPolicy-FS-1-2-*)."
  }
}

variable "redirect_http_to_https" {
  description = "Add an HTTP listener on port 80 that answers every request with a 301 to HTTPS."
  type        = bool
  default     = false
}

variable "target_type" {
  description = "\"instance\" for an Auto Scaling group, \"ip\" for Fargate tasks."
  type        = string

  validation {
    condition     = contains(["instance", "ip"], var.target_type)
    error_message = "target_type must be \"instance\" or \"ip\"."
  }
}

variable "target_port" {
  description = "Port the targets listen on (plain HTTP inside the VPC)."
  type        = number

  validation {
    condition     = var.target_port > 0 && var.target_port < 65536
    error_message = "target_port must be a TCP port."
  }
}

variable "health_check_path" {
  description = "Path the load balancer probes on each target."
  type        = string

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with '/'."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes that count as healthy."
  type        = string
  default     = "200"
}

variable "deregistration_delay" {
  description = "Seconds a deregistering target keeps serving in-flight requests."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be between 0 and 3600."
  }
}

variable "access_logs_bucket" {
  description = "Bucket for the access logs (written under <name>/AWSLogs/<account>/); its policy must let ELB deliver."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before destroying an environment)."
  type        = bool
  default     = false
}

variable "dns_records" {
  description = "Alias records to publish for the load balancer: zone ID and fully qualified name of each."
  type = list(object({
    zone_id = string
    name    = string
  }))
  default = []
}
