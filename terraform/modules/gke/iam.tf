# The nodes' own identity: least privilege (logs, metrics, image pulls), never the Compute
# Engine default service account. Pods do not use it: Workload Identity gives each its own.

locals {
  node_roles = toset([
    "roles/artifactregistry.reader",
    "roles/autoscaling.metricsWriter",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
  ])
}

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = "${var.prefix}-gke-nodes"
  display_name = "GKE nodes of ${var.prefix}"
  description  = "Node service account of the ${var.prefix} GKE cluster: logs, metrics, image pulls (managed by Terraform)."
}

resource "google_project_iam_member" "nodes" {
  for_each = local.node_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.nodes.member
}

# Whoever creates or changes node pools must be able to act as their service account
# (iam.serviceAccounts.actAs). Granted here, on this one account, instead of
# roles/iam.serviceAccountUser on the project, which would cover every account there.
resource "google_service_account_iam_member" "node_users" {
  for_each = var.node_service_account_users

  service_account_id = google_service_account.nodes.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
