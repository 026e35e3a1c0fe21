# The runner's credentials: empty secrets, encrypted with the module's key, whose values the
# operator puts (aws secretsmanager put-secret-value) before the service starts. Terraform never
# holds a value, so none is in a variable, the plan or the state.

locals {
  # secret name suffix => the runner's environment variable
  secret_variables = merge(
    {
      "webhook-secret"         = "RUNNER_WEBHOOK_SECRET"
      "api-token"              = "RUNNER_API_TOKEN"
      "github-app-private-key" = "GITHUB_APP_PRIVATE_KEY"
    },
    var.slack_enabled ? {
      "slack-bot-token"      = "SLACK_BOT_TOKEN"
      "slack-signing-secret" = "SLACK_SIGNING_SECRET"
    } : {},
  )
}

resource "aws_secretsmanager_secret" "runner" {
  for_each = local.secret_variables

  name        = "${var.name}/${each.key}"
  description = "${each.value} of the GitOps runner (value put by the operator)"
  kms_key_id  = local.kms_key_arn

  recovery_window_in_days = 30

  tags = { Name = "${var.name}/${each.key}" }
}
