# Alarms without a metrics pipeline: the runner's metrics are Prometheus (GET /metrics), which
# CloudWatch does not scrape, so the alarms read what AWS already measures (the load balancer's
# 5xx answers and healthy targets) and two metrics filtered from the runner's JSON logs (failed
# deploys; the queue's age, from the line each replica writes every minute). The other Prometheus
# alerts (deploy/prometheus/alerts.yml) need a Prometheus or a collector; see the README.

locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  lb_dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = aws_lb_target_group.runner.arn_suffix
  }
}

# The pipeline logs {"msg":"run finished","kind":"deploy","status":"failed",...} once per failed
# deploy run (internal/pipeline, RUNNER_LOG_JSON=true).
resource "aws_cloudwatch_log_metric_filter" "failed_deploys" {
  name           = "${var.name}-failed-deploys"
  log_group_name = aws_cloudwatch_log_group.runner.name
  pattern        = "{ ($.msg = \"run finished\") && ($.kind = \"deploy\") && ($.status = \"failed\") }"

  metric_transformation {
    name          = "FailedDeploys"
    namespace     = "GitOpsRunner/${var.name}"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_deploys" {
  alarm_name          = "${var.name}-failed-deploys"
  alarm_description   = "A deploy run of the GitOps runner failed (log: msg=\"run finished\" kind=deploy status=failed)."
  namespace           = "GitOpsRunner/${var.name}"
  metric_name         = "FailedDeploys"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = { Name = "${var.name}-failed-deploys" }
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${var.name}-5xx"
  alarm_description   = "The runner answered 5xx (a webhook not stored, /readyz failing) 5 times or more in 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.lb_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = { Name = "${var.name}-5xx" }
}

resource "aws_cloudwatch_metric_alarm" "healthy_targets" {
  alarm_name          = "${var.name}-healthy-replicas"
  alarm_description   = "Fewer runner replicas pass /readyz than desired_count for 5 minutes (database down, workers stopped, tasks failing)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.lb_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.desired_count
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = { Name = "${var.name}-healthy-replicas" }
}

# Each replica logs {"msg":"queue","waiting":N,"running":M,"oldest_queued_seconds":S,...} every
# RUNNER_QUEUE_LOG_EVERY (1m; internal/server, queuelog.go). Replicas share the database, so they log
# the same age: the alarm takes the maximum.
resource "aws_cloudwatch_log_metric_filter" "queue_age" {
  name           = "${var.name}-queue-age"
  log_group_name = aws_cloudwatch_log_group.runner.name
  pattern        = "{ $.msg = \"queue\" }"

  metric_transformation {
    name      = "QueueAgeSeconds"
    namespace = "GitOpsRunner/${var.name}"
    value     = "$.oldest_queued_seconds"
    unit      = "Seconds"
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-queue-age"
  alarm_description   = "A run of the GitOps runner has waited more than ${var.queue_age_alarm_seconds} s to start (every worker busy, or none running)."
  namespace           = "GitOpsRunner/${var.name}"
  metric_name         = "QueueAgeSeconds"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  # No line at all means no replica runs: the healthy-targets alarm says that.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  tags = { Name = "${var.name}-queue-age" }
}
