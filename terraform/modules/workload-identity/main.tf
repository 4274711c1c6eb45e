locals {
  # One Google service account per KFP pod that calls Google APIs (README: which, and why).
  # Account ids are at most 12 + 13 = 25 characters, within Google's 30.
  service_accounts = {
    cloudsql_proxy = {
      account_id  = "${var.prefix}-kfp-sqlproxy"
      description = "Cloud SQL Auth Proxy in front of the KFP database"
    }
    pipeline_runner = {
      account_id  = "${var.prefix}-kfp-runner"
      description = "KFP pipeline runs (launcher, importer, Argo wait container): read and write the pipeline root"
    }
    ui = {
      account_id  = "${var.prefix}-kfp-ui"
      description = "KFP UI: read artifacts for previews and downloads"
    }
  }

  # Bucket-level roles only: neither pod needs anything outside the artifact bucket.
  bucket_roles = {
    pipeline_runner = "roles/storage.objectUser"
    ui              = "roles/storage.objectViewer"
  }
}

resource "google_service_account" "service_account" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = "KFP ${replace(each.key, "_", " ")} (${var.namespace}/${var.kubernetes_service_accounts[each.key]})"
  description  = each.value.description
}

# Lets exactly one Kubernetes service account act as its Google service account.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.service_accounts

  service_account_id = google_service_account.service_account[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.kubernetes_service_accounts[each.key]}]"
}

resource "google_storage_bucket_iam_member" "bucket" {
  for_each = local.bucket_roles

  bucket = var.bucket
  role   = each.value
  member = "serviceAccount:${google_service_account.service_account[each.key].email}"
}

# The Auth Proxy calls the Cloud SQL Admin API (connect, get) on the instance.
resource "google_project_iam_member" "cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.service_account["cloudsql_proxy"].email}"
}
