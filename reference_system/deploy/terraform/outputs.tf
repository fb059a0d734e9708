output "database_endpoint" {
  description = "RDS endpoint (PRSM_REF_POSTGRES_DSN host)"
  value       = aws_db_instance.main.endpoint
}

output "redis_endpoint" {
  description = "ElastiCache primary endpoint (PRSM_REF_REDIS_URL host)"
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "cluster_name" {
  description = "EKS cluster for kubectl apply -k deploy/k8s/overlays/production"
  value       = aws_eks_cluster.main.name
}

output "prometheus_endpoint" {
  description = "Amazon Managed Prometheus remote-write endpoint"
  value       = aws_prometheus_workspace.main.prometheus_endpoint
}
