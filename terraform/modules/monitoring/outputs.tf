output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the alarms."
  value = concat(
    [aws_cloudwatch_metric_alarm.frontend_cpu_high.alarm_name, aws_cloudwatch_metric_alarm.api_cpu_high.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.unhealthy_hosts : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.target_5xx : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.elb_5xx : a.alarm_name],
    aws_cloudwatch_metric_alarm.db_cpu_high[*].alarm_name,
    aws_cloudwatch_metric_alarm.db_free_storage_low[*].alarm_name,
    aws_cloudwatch_metric_alarm.db_connections_high[*].alarm_name,
  )
}
