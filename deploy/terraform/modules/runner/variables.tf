# --- where it runs ----------------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name (IAM roles, the cluster, the database, secrets)."
  type        = string
  default     = "gitops-runner"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}$", var.name))
    error_message = "name: lower case letters, digits and hyphens, 2-23 characters, starting with a letter (it prefixes the load balancer's 32-character name)."
  }
}

variable "vpc_id" {
  description = "VPC the runner, its load balancer and its database run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (with a route to a NAT gateway: the runner reaches GitHub, registries and AWS APIs) in two or more availability zones, for the tasks and the database."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids: at least two subnets in different availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets in two or more availability zones, for the internet-facing load balancer."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids: at least two subnets in different availability zones."
  }
}

# --- the runner -------------------------------------------------------------------------------------

variable "image" {
  description = "The runner's image (this repository's Dockerfile), pinned by digest: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/gitops-runner@sha256:..."
  type        = string

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image: name an image, pinned by digest (@sha256:...) or at least by an immutable tag, never :latest."
  }
}

variable "desired_count" {
  description = "Runner replicas. They share the PostgreSQL store; the service spreads them across the private subnets' zones."
  type        = number
  default     = 2
}

variable "cpu" {
  description = "Fargate CPU units per task (Terraform and go build run inside the task)."
  type        = number
  default     = 2048
}

variable "memory" {
  description = "Fargate memory per task, MiB."
  type        = number
  default     = 4096
}

variable "ephemeral_storage_gib" {
  description = "Fargate ephemeral storage per task, GiB (21-200): the runner's data directory (git mirrors, work trees, provider and Go caches) and /tmp."
  type        = number
  default     = 50

  validation {
    condition     = var.ephemeral_storage_gib >= 21 && var.ephemeral_storage_gib <= 200
    error_message = "ephemeral_storage_gib: Fargate allows 21 to 200 GiB."
  }
}

variable "allowed_repos" {
  description = "RUNNER_ALLOWED_REPOS: owner/name globs of the repositories the runner acts on."
  type        = list(string)

  validation {
    condition     = length(var.allowed_repos) > 0
    error_message = "allowed_repos: name at least one repository (owner/name, globs allowed)."
  }
}

variable "public_url" {
  description = "RUNNER_PUBLIC_URL: the https:// address GitHub and people reach the runner at (a DNS name of the load balancer covered by certificate_arn)."
  type        = string

  validation {
    condition     = startswith(var.public_url, "https://")
    error_message = "public_url must start with https://."
  }
}

variable "github_app_id" {
  description = "GITHUB_APP_ID of the runner's GitHub App."
  type        = string
}

variable "github_installation_id" {
  description = "GITHUB_INSTALLATION_ID: the App's installation on the organisation or account."
  type        = string
}

variable "slack_enabled" {
  description = "Whether the runner posts to Slack: creates the SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET secrets and passes them to the tasks."
  type        = bool
  default     = true
}

variable "slack_channel" {
  description = "SLACK_CHANNEL: the default channel (empty: only the channels the repository configuration names)."
  type        = string
  default     = ""
}

variable "extra_environment" {
  description = "More plain environment variables for the runner (RUNNER_WORKERS, RUNNER_LOG_LEVEL, ...). Never credentials: those go through Secrets Manager."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("(?i)(secret|token|password|private_?key|credential)", k))])
    error_message = "extra_environment: credentials do not belong in plain environment variables."
  }
}

variable "server_policy" {
  description = "The server-side repository policy (YAML: roles, approvals, deploy branches, drift_check schedules; see the runner's README), given to the runner as RUNNER_REPOS_CONFIG_YAML. Empty: the built-in default."
  type        = string
  default     = ""
}

variable "opa_policies" {
  description = "The operator's Open Policy Agent policies that every policy step checks besides the repository's, as file name => rego source (RUNNER_POLICIES_JSON). A policy that does not compile stops the task at start."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.opa_policies) : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]*\\.rego$", k))])
    error_message = "opa_policies: each key is a plain file name ending in .rego (letters, digits, '.', '_', '-')."
  }
}

# --- the load balancer ------------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate (in this region) for the HTTPS listener, covering the host of public_url."
  type        = string
}

variable "webhook_cidrs" {
  description = "CIDRs admitted to the load balancer: GitHub's webhook sources, the `hooks` list of https://api.github.com/meta (IPv4 only)."
  type        = list(string)

  validation {
    condition     = length(var.webhook_cidrs) > 0 && alltrue([for c in var.webhook_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "webhook_cidrs: IPv4 CIDRs from GitHub's meta API `hooks`, never 0.0.0.0/0."
  }
}

variable "dashboard" {
  description = "Publish the dashboard and its API behind the load balancer's OpenID Connect authentication (null: only the webhook and the health endpoints are reachable). The runner's own RUNNER_API_TOKEN still guards them behind it."
  type = object({
    cidrs                  = list(string)
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
  })
  default = null

  validation {
    condition     = var.dashboard == null || alltrue([for c in try(var.dashboard.cidrs, []) : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "dashboard.cidrs: IPv4 CIDRs of the people's networks, never 0.0.0.0/0."
  }
}

variable "dashboard_oidc_client_secret" {
  description = "The OpenID Connect client secret of the dashboard's load balancer authentication (required with dashboard). It is stored in the listener rule, hence in the state: keep the state encrypted."
  type        = string
  default     = null
  sensitive   = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for the load balancer's access logs (null: none)."
  type        = string
  default     = null
}

variable "load_balancer_deletion_protection" {
  description = "Deletion protection of the load balancer."
  type        = bool
  default     = true
}

# --- the database -----------------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class of the runner's store."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_engine_version" {
  description = "PostgreSQL version."
  type        = string
  default     = "16.4"
}

variable "db_allocated_storage" {
  description = "Initial storage of the database, GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling, GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "A standby in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days: 1 to 35."
  }
}

variable "deletion_protection" {
  description = "Deletion protection of the database (and a final snapshot when it is deleted)."
  type        = bool
  default     = true
}

# --- encryption, logs, alarms -------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the secrets, the database, its master user secret and the logs (null: the module creates one). A key given here must let CloudWatch Logs of this account use it."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days the runner's logs are kept."
  type        = number
  default     = 90
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify (null: the alarms have no action)."
  type        = string
  default     = null
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when a run has waited this long to start, three minutes in a row (the runner's queue line, RUNNER_QUEUE_LOG_EVERY)."
  type        = number
  default     = 900

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds: at least 60."
  }
}

# --- the roles the runner assumes ---------------------------------------------------------------------

variable "state_bucket" {
  description = "Name of the Terraform state bucket (terraform/bootstrap's state_bucket output)."
  type        = string
}

variable "state_key_prefixes" {
  description = "Key prefixes in the state bucket the plan and apply roles may read (apply: also write), e.g. [\"environments/\"]."
  type        = list(string)
  default     = ["environments/"]
}

variable "state_kms_key_arn" {
  description = "KMS key of the state bucket (terraform/bootstrap's kms_key_arn output)."
  type        = string
}

variable "lock_table" {
  description = "Name of the DynamoDB lock table (terraform/bootstrap's lock_table output)."
  type        = string
}

variable "plan_external_id" {
  description = "External ID the plan role requires: the same value as plan_role.external_id in the runner's repository policy (RUNNER_REPOS_CONFIG)."
  type        = string

  validation {
    condition     = length(var.plan_external_id) >= 2 && length(var.plan_external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.plan_external_id))
    error_message = "plan_external_id: 2-1224 characters of letters, digits and +=,.@:/-_ (STS's pattern)."
  }
}

variable "apply_external_id" {
  description = "External ID the apply role requires (apply_role.external_id in the repository policy); different from plan_external_id."
  type        = string

  validation {
    condition     = length(var.apply_external_id) >= 2 && length(var.apply_external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.apply_external_id))
    error_message = "apply_external_id: 2-1224 characters of letters, digits and +=,.@:/-_ (STS's pattern)."
  }
}

variable "managed_name_prefix" {
  description = "Name prefix of the IAM roles, instance profiles and policies the environments create (the apply role may manage and pass only those), e.g. \"gitops-app-\"."
  type        = string
}

# --- what the deploy stages touch (the runner's own credentials) ----------------------------------------

variable "deploy_ecr_repository_arns" {
  description = "ECR repositories the runner pushes application images to (image stages)."
  type        = list(string)
  default     = []
}

variable "deploy_bundle_bucket_arns" {
  description = "S3 buckets the runner uploads frontend bundles to (bundle stages)."
  type        = list(string)
  default     = []
}

variable "deploy_ecs_cluster_arns" {
  description = "ECS clusters whose services the runner waits on and whose migration tasks it runs (ecs stages)."
  type        = list(string)
  default     = []
}

variable "deploy_pass_role_arns" {
  description = "The applications' task and execution roles the runner may pass when it registers a migration task definition."
  type        = list(string)
  default     = []
}

variable "deploy_autoscaling_group_arns" {
  description = "Auto Scaling groups the runner starts instance refreshes on (refresh stages)."
  type        = list(string)
  default     = []
}
