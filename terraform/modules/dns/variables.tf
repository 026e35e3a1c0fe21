variable "domain" {
  description = "The environment's DNS domain, e.g. \"dev.example.com\". A public hosted zone is created for it; delegate it from the parent zone with the name_servers output."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase DNS name such as dev.example.com."
  }
}

variable "vpc_id" {
  description = "VPC in which the API name resolves (private hosted zone association)."
  type        = string
}

variable "app_subdomain" {
  description = "Label of the public application name: <app_subdomain>.<domain>."
  type        = string
  default     = "app"
}

variable "api_subdomain" {
  description = "Label of the VPC-internal API name: <api_subdomain>.<domain>."
  type        = string
  default     = "api"
}
