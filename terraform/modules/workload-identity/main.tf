locals {
  # One Google service account per KFP pod that calls Google APIs (README: which, and why),
  # plus the inverse proxy agent's when that access mode is on. Account ids are at most
  # 12 + 13 = 25 characters, within Google's 30.
  service_accounts = merge(
    {
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
        description = "KFP UI: read artifacts for previews, downloads and the executor-logs of finished steps"
      }
      viewer = {
        account_id  = "${var.prefix}-kfp-viewer"
        description = "KFP TensorBoard viewer pods: read gs:// log directories"
      }
    },
    var.inverse_proxy.enabled ? {
      inverse_proxy = {
        account_id  = "${var.prefix}-kfp-invproxy"
        description = "KFP inverse proxy agent: registers the UI with Google's inverting proxy; no roles"
      }
    } : {},
  )

  # Bucket-level roles only: no pod needs anything outside the artifact bucket.
  bucket_roles = {
    pipeline_runner = "roles/storage.objectUser"
    ui              = "roles/storage.objectViewer"
    viewer          = "roles/storage.objectViewer"
  }

  # The object store account: read objects, and storage.buckets.get for KFP 2.14.4's
  # start-up bucket check (legacyBucketReader; objectViewer does not include it).
  object_store_roles = toset(["roles/storage.objectViewer", "roles/storage.legacyBucketReader"])
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

# KFP 2.14.4's API server reads the bucket through GCS's S3-compatible API with an HMAC key
# (docs/manifests.md). The key belongs to this read-only account, which no pod runs as. A
# person creates the key (`gcloud storage hmac create EMAIL`); Terraform never does, so no
# secret lands in the state.
resource "google_service_account" "object_store" {
  project      = var.project_id
  account_id   = "${var.prefix}-kfp-objstore"
  display_name = "KFP object store (HMAC key for the 2.14.4 API server)"
  description  = "Read-only on the artifact bucket; its HMAC key is created by a person and kept in Secret Manager"
}

resource "google_storage_bucket_iam_member" "object_store" {
  for_each = local.object_store_roles

  bucket = var.bucket
  role   = each.value
  member = "serviceAccount:${google_service_account.object_store.email}"
}

# Google's inverting proxy serves the agent's UI to principals that may act as the agent's
# service account (Service Account User), as for Vertex AI Workbench's service-account mode.
# Unverified for KFP's agent: see docs/manifests.md, "Inverse proxy".
resource "google_service_account_iam_member" "inverse_proxy_user" {
  for_each = var.inverse_proxy.enabled ? var.inverse_proxy.members : toset([])

  service_account_id = google_service_account.service_account["inverse_proxy"].name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
