# Alarms without a metrics pipeline: the runner's metrics are Prometheus (GET /metrics), which
# CloudWatch does not scrape, so the alarms read what AWS already measures (the load balancer's
# 5xx answers and healthy targets) and one metric filtered from the runner's JSON logs (failed
# deploys). Queue age and the other Prometheus alerts (deploy/prometheus/alerts.yml) need a
# Prometheus or a collector; see the README.

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
