resource "aws_elasticache_subnet_group" "main" {
  name       = "prsm-${var.environment}"
  subnet_ids = aws_subnet.private[*].id
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id       = "prsm-${var.environment}"
  description                = "PRSM L2 memory tier and rate limits"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.r7g.large"
  num_cache_clusters         = 3
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.main.name
  security_group_ids         = [aws_security_group.cache.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  kms_key_id                 = aws_kms_key.data.arn
  auth_token                 = random_password.redis.result
  snapshot_retention_limit   = 7
  snapshot_window            = "01:00-02:00"
  auto_minor_version_upgrade = true
}
