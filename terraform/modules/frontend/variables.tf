variable "name" {
  description = "Name prefix, e.g. \"gitops-app-dev\"; the Auto Scaling group is <name>-frontend."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}$", var.name))
    error_message = "name must be 2-23 lowercase letters, digits or hyphens (the load balancer name <name>-frontend must fit in 32)."
  }
}

variable "frontend_version" {
  description = "Version of the frontend bundle to serve: the instances fetch s3://<artifacts_bucket>/frontend/<frontend_version>.tar.gz at boot."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", var.frontend_version))
    error_message = "frontend_version must be 1-128 letters, digits, '.', '_' or '-' (a commit SHA, or \"initial\")."
  }
}

variable "artifacts_bucket" {
  description = "Name of the bucket holding the frontend bundles."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "ARN of the bucket holding the frontend bundles; the instances may read frontend/* only."
  type        = string
}

variable "artifacts_kms_key_arn" {
  description = "KMS key of the artifacts bucket; the instances may decrypt with it."
  type        = string
}

variable "api_upstream" {
  description = "Where nginx proxies /api/ to, e.g. \"https://api.dev.example.com\" (the internal ALB)."
  type        = string

  validation {
    condition     = can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]+)?$", var.api_upstream))
    error_message = "api_upstream must be scheme://host[:port] with no path."
  }
}

variable "listen_port" {
  description = "Port nginx listens on in the instances (the target group's port)."
  type        = number
  default     = 8080

  validation {
    condition     = var.listen_port > 0 && var.listen_port < 65536
    error_message = "listen_port must be a TCP port."
  }
}

variable "web_root" {
  description = "Directory on the instances the bundle is unpacked into and nginx serves."
  type        = string
  default     = "/usr/share/nginx/app"

  validation {
    condition     = can(regex("^/[A-Za-z0-9/._-]+$", var.web_root))
    error_message = "web_root must be an absolute path without spaces."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the frontend instances (x86_64)."
  type        = string
  default     = "t3.small"
}

variable "ami_id" {
  description = "AMI of the instances; null means the latest Amazon Linux 2023 (x86_64) at plan time. Pin it for reproducible plans."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "root_volume_size" {
  description = "Size of the encrypted root volume in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size >= 8
    error_message = "root_volume_size must be at least 8 GiB."
  }
}

variable "min_size" {
  description = "Fewest instances in the Auto Scaling group."
  type        = number
  default     = 2

  validation {
    condition     = var.min_size >= 1
    error_message = "min_size must be at least 1."
  }
}

variable "max_size" {
  description = "Most instances in the Auto Scaling group (leave room above min_size for instance refresh)."
  type        = number
  default     = 4

  validation {
    condition     = var.max_size >= 1
    error_message = "max_size must be at least 1."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the Auto Scaling group scales to hold."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Requests per minute per instance the Auto Scaling group scales to hold."
  type        = number
  default     = 1000

  validation {
    condition     = var.requests_per_target >= 1
    error_message = "requests_per_target must be positive."
  }
}

variable "vpc_id" {
  description = "VPC of the instances and the load balancer."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the internet-facing load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets the instances are spread over (one per availability zone)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets (two availability zones)."
  }
}

variable "instance_security_group_id" {
  description = "Security group of the instances (ingress from the public ALB only)."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the public load balancer."
  type        = string
}

variable "certificate_arn" {
  description = "Validated ACM certificate for app_fqdn."
  type        = string
}

variable "app_fqdn" {
  description = "Public name of the application, e.g. app.dev.example.com."
  type        = string
}

variable "public_zone_id" {
  description = "Public hosted zone in which app_fqdn is published (alias to the public ALB)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket for the public ALB's access logs."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the public load balancer from deletion."
  type        = bool
  default     = false
}
