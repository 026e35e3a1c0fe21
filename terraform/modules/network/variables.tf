variable "name" {
  description = "Name prefix for every resource of this network, e.g. \"gitops-app-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC; /16 to /22. Subnets are carved from it, public first, private in the upper half."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 22
    error_message = "vpc_cidr must be a valid IPv4 CIDR block between /16 and /22."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread over; one public and one private subnet per zone. The list length is the AZ count."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must hold 2 to 6 distinct zones."
  }
}

variable "nat_gateway_mode" {
  description = "\"per_az\": one NAT gateway per zone (zone-independent egress, production). \"single\": one shared NAT gateway (cheaper, for dev)."
  type        = string
  default     = "per_az"

  validation {
    condition     = contains(["single", "per_az"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be \"single\" or \"per_az\"."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of the retention periods CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}
