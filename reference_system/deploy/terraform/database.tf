resource "aws_db_subnet_group" "main" {
  name       = "prsm-${var.environment}"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "postgres" {
  name   = "prsm-${var.environment}-pg16"
  family = "postgres16"
  parameter {
    name  = "log_min_duration_statement"
    value = "250"
  }
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_db_instance" "main" {
  identifier                          = "prsm-${var.environment}"
  engine                              = "postgres"
  engine_version                      = "16.3"
  instance_class                      = var.db_instance_class
  allocated_storage                   = 200
  max_allocated_storage               = 1000
  storage_type                        = "gp3"
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.data.arn
  db_name                             = "prsm"
  username                            = "prsm"
  manage_master_user_password         = true # RDS keeps and rotates it in Secrets Manager
  master_user_secret_kms_key_id       = aws_kms_key.data.key_id
  multi_az                            = true
  backup_retention_period             = var.backup_retention_days
  backup_window                       = "02:00-03:00"
  maintenance_window                  = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot               = true
  deletion_protection                 = true
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "prsm-${var.environment}-final"
  db_subnet_group_name                = aws_db_subnet_group.main.name
  parameter_group_name                = aws_db_parameter_group.postgres.name
  vpc_security_group_ids              = [aws_security_group.database.id]
  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.data.arn
  monitoring_interval                 = 30
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  publicly_accessible                 = false
}

resource "aws_iam_role" "rds_monitoring" {
  name = "prsm-${var.environment}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole",
                   Principal = { Service = "monitoring.rds.amazonaws.com" } }]
  })
}
