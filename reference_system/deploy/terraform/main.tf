# The reference system on AWS: VPC, RDS PostgreSQL (Multi-AZ, automated backups, PITR),
# ElastiCache Redis (replication group with automatic failover), EKS with auto-scaling node
# groups, Milvus and the monitoring stack (CloudWatch, Amazon Managed Prometheus and Grafana).
# One command provisions it: terraform init && terraform apply -var-file=production.tfvars
# Secrets: RDS manages and rotates the database password in Secrets Manager; the Redis auth
# token is generated here. None is committed.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws        = { source = "hashicorp/aws", version = "~> 5.40" }
    helm       = { source = "hashicorp/helm", version = "~> 2.12" }
    random     = { source = "hashicorp/random", version = "~> 3.6" }
  }
  backend "s3" {
    key     = "prsm/terraform.tfstate"
    encrypt = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "prsm", environment = var.environment, managed_by = "terraform" }
  }
}

provider "helm" {
  kubernetes {
    host                   = aws_eks_cluster.main.endpoint
    cluster_ca_certificate = base64decode(aws_eks_cluster.main.certificate_authority[0].data)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", aws_eks_cluster.main.name]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "PRSM data at rest (RDS, ElastiCache, logs, EKS secrets)"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

data "aws_caller_identity" "current" {}
