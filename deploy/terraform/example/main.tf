# An example of the runner module with placeholder values: replace every one (see ../README.md,
# "Values to provide once"). scripts/validate-infra.sh plans and applies it offline.

module "runner" {
  source = "../modules/runner"

  name               = "gitops-runner"
  vpc_id             = "vpc-0123456789abcdef0"
  private_subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  public_subnet_ids  = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]

  image           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gitops-runner@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  public_url      = "https://runner.example.com"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"

  allowed_repos          = ["example-org/infra"]
  github_app_id          = "123456"
  github_installation_id = "7654321"
  slack_channel          = "#deploys"

  # GitHub's webhook sources: `curl -s https://api.github.com/meta | jq .hooks` (IPv4 entries).
  webhook_cidrs = ["192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"]

  dashboard = {
    cidrs                  = ["203.0.113.0/24"]
    issuer                 = "https://login.example.com"
    authorization_endpoint = "https://login.example.com/oauth2/authorize"
    token_endpoint         = "https://login.example.com/oauth2/token"
    user_info_endpoint     = "https://login.example.com/oauth2/userinfo"
    client_id              = "gitops-runner-dashboard"
  }
  dashboard_oidc_client_secret = var.dashboard_oidc_client_secret

  # terraform/bootstrap's outputs.
  state_bucket      = "gitops-app-terraform-state"
  state_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  lock_table        = "gitops-app-terraform-locks"

  plan_external_id    = local.plan_external_id
  apply_external_id   = local.apply_external_id
  managed_name_prefix = "gitops-app-"

  # What the environments' deploy stages touch (terraform/shared's repository; environments/*).
  deploy_ecr_repository_arns    = ["arn:aws:ecr:eu-west-1:123456789012:repository/gitops-app/backend"]
  deploy_bundle_bucket_arns     = ["arn:aws:s3:::gitops-app-dev-artifacts", "arn:aws:s3:::gitops-app-prod-artifacts"]
  deploy_ecs_cluster_arns       = ["arn:aws:ecs:eu-west-1:123456789012:cluster/gitops-app-dev", "arn:aws:ecs:eu-west-1:123456789012:cluster/gitops-app-prod"]
  deploy_pass_role_arns         = ["arn:aws:iam::123456789012:role/gitops-app-dev-api-task", "arn:aws:iam::123456789012:role/gitops-app-dev-api-execution"]
  deploy_autoscaling_group_arns = ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/gitops-app-dev-*"]

  db_multi_az = true

  # The policies travel in the task definition (the task's files are the image's). The server policy
  # names the module's own roles: Terraform orders it after them.
  server_policy = templatefile("${path.module}/policy/repos.yaml.tftpl", {
    plan_role_arn     = module.runner.plan_role_arn
    apply_role_arn    = module.runner.apply_role_arn
    plan_external_id  = local.plan_external_id
    apply_external_id = local.apply_external_id
  })
  opa_policies = { for f in fileset("${path.module}/policy", "*.rego") : f => file("${path.module}/policy/${f}") }
}

locals {
  plan_external_id  = "example-org-runner-plan"
  apply_external_id = "example-org-runner-apply"
}
