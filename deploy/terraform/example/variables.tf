variable "region" {
  description = "AWS region of the runner."
  type        = string
  default     = "eu-west-1"
}

variable "dashboard_oidc_client_secret" {
  description = "Client secret of the dashboard's OpenID Connect application (TF_VAR_dashboard_oidc_client_secret; never committed)."
  type        = string
  sensitive   = true
}
