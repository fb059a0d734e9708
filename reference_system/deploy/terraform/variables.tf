variable "region" {
  description = "AWS region"
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "staging or production"
  type        = string
  default     = "production"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC"
  type        = string
  default     = "10.40.0.0/16"
}

variable "azs" {
  description = "Availability zones (three: Multi-AZ database, cache and nodes)"
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "db_instance_class" {
  description = "RDS instance class"
  type        = string
  default     = "db.r6g.large"
}

variable "backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)"
  type        = number
  default     = 14
}

variable "node_min" {
  description = "Smallest size of the application node group"
  type        = number
  default     = 3
}

variable "node_max" {
  description = "Largest size of the application node group"
  type        = number
  default     = 12
}

variable "alarm_topic_arn" {
  description = "SNS topic receiving CloudWatch alarms (PagerDuty integration)"
  type        = string
  default     = ""
}
