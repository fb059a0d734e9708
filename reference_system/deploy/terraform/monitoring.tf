resource "aws_cloudwatch_log_group" "flow" {
  name              = "/prsm/${var.environment}/vpc-flow"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_cloudwatch_log_group" "application" {
  name              = "/prsm/${var.environment}/application"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_cloudwatch_metric_alarm" "database_cpu" {
  alarm_name          = "prsm-${var.environment}-rds-cpu"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "cache_failover" {
  alarm_name          = "prsm-${var.environment}-redis-replication-lag"
  namespace           = "AWS/ElastiCache"
  metric_name         = "ReplicationLag"
  dimensions          = { ReplicationGroupId = aws_elasticache_replication_group.main.id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  alarm_actions       = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
}

resource "aws_prometheus_workspace" "main" {
  alias = "prsm-${var.environment}"
  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.application.arn}:*"
  }
}

resource "aws_prometheus_rule_group_namespace" "alerts" {
  name         = "prsm-alerts"
  workspace_id = aws_prometheus_workspace.main.id
  data         = file("${path.module}/../monitoring/alerts.yaml")
}

resource "aws_grafana_workspace" "main" {
  name                     = "prsm-${var.environment}"
  account_access_type      = "CURRENT_ACCOUNT"
  authentication_providers = ["AWS_SSO"]
  permission_type          = "SERVICE_MANAGED"
  data_sources             = ["PROMETHEUS", "CLOUDWATCH"]
  role_arn                 = aws_iam_role.grafana.arn
}

resource "aws_iam_role" "grafana" {
  name = "prsm-${var.environment}-grafana"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole",
                   Principal = { Service = "grafana.amazonaws.com" } }]
  })
}
