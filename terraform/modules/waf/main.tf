# AWS WAF in front of the public load balancer: AWS managed rule groups (IP reputation, common
# exploits, known bad inputs) and a per-IP rate limit. mode = "count" only counts what the rules
# match (dev: find false positives first); "block" enforces them. Every request is logged to an
# encrypted log group with the Authorization and Cookie headers redacted.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  acl_name = "${var.name}-public"
  # Metric names allow letters, digits, - and _ only.
  metric_prefix = replace(local.acl_name, "/[^A-Za-z0-9_-]/", "-")
  counting      = var.mode == "count"

  # Cheapest first: the IP reputation list drops known bad sources before the larger groups run.
  managed_rule_groups = [
    { name = "AWSManagedRulesAmazonIpReputationList", priority = 0 },
    { name = "AWSManagedRulesCommonRuleSet", priority = 20 },
    { name = "AWSManagedRulesKnownBadInputsRuleSet", priority = 30 },
  ]
}

resource "aws_wafv2_web_acl" "this" {
  name        = local.acl_name
  description = "Public ALB of ${var.name}: AWS managed rules and a per-IP rate limit (${var.mode})"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups

    content {
      name     = rule.value.name
      priority = rule.value.priority

      # count: the group's matches are only counted; none: the group's own actions (block) apply.
      override_action {
        dynamic "count" {
          for_each = local.counting ? [1] : []
          content {}
        }
        dynamic "none" {
          for_each = local.counting ? [] : [1]
          content {}
        }
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.value.name
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${local.metric_prefix}-${rule.value.name}"
        sampled_requests_enabled   = true
      }
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 10

    action {
      dynamic "count" {
        for_each = local.counting ? [1] : []
        content {}
      }
      dynamic "block" {
        for_each = local.counting ? [] : [1]
        content {}
      }
    }

    statement {
      rate_based_statement {
        limit              = var.rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.metric_prefix}-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.metric_prefix
    sampled_requests_enabled   = true
  }

  tags = { Name = local.acl_name }
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = var.resource_arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

# WAF delivers only to log groups whose name starts with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "this" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = { Name = "aws-waf-logs-${var.name}" }
}

# Lets the log delivery service write WAF logs of this account into this log group only (WAF
# would otherwise add an account-wide policy of its own on the first logging call).
resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name = "aws-waf-logs-${var.name}"

  policy_document = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "WafLogDelivery"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource  = "${aws_cloudwatch_log_group.this.arn}:*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:*" }
      }
    }]
  })
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # Credentials never reach the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}
