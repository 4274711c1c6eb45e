# Observability of one environment as code: where alerts go (channels.tf), what fires
# (alerts.tf), one dashboard (dashboard.tf), and how long logs are kept (below).

locals {
  database_id = "${var.project_id}:${var.targets.cloudsql_instance}"
  cluster     = var.targets.cluster_name
  namespace   = var.targets.namespace
  # GKE names nodes gke-<cluster>-<pool>-<hash>-<suffix>; the GPU-idle alert finds the
  # accelerator pools' nodes by that prefix.
  gpu_node_pattern = "gke-${local.cluster}-(${join("|", sort(tolist(var.targets.gpu_pools)))})-.*"
}

# The project's _Default log bucket (GKE system and workload logs, Cloud NAT, audit logs
# other than the _Required ones). Terraform adopts it; destroying only forgets it.
resource "google_logging_project_bucket_config" "default" {
  project        = var.project_id
  location       = "global"
  bucket_id      = "_Default"
  retention_days = var.log_retention_days
}
