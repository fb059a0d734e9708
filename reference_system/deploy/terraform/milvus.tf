# Milvus (vector embeddings) in the cluster, cluster mode, with persistent volumes for its
# etcd, MinIO and Pulsar parts.
resource "helm_release" "milvus" {
  name             = "milvus"
  namespace        = "milvus"
  create_namespace = true
  repository       = "https://zilliztech.github.io/milvus-helm"
  chart            = "milvus"
  version          = "4.1.34"
  values = [yamlencode({
    cluster = { enabled = true }
    etcd    = { replicaCount = 3, persistence = { enabled = true, size = "20Gi" } }
    minio   = { mode = "distributed", persistence = { enabled = true, size = "200Gi" } }
    pulsar  = { enabled = true }
  })]
}
