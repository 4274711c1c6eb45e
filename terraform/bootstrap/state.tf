# The Terraform state bucket of the bootstrap (once migrated) and of every environment
# (prefix terraform/environments/<env>). Versioned, with soft delete and a bounded history,
# never public, never destroyed by Terraform.

locals {
  state_bucket = coalesce(var.state_bucket.name, "${var.prefix}-${var.project_id}-tfstate")
}

resource "google_storage_bucket" "state" {
  # checkov:skip=CKV_GCP_62:Usage logs need a second bucket and are superseded by Cloud Audit Logs: admin activity on this bucket is always logged, and the only writers are the CI apply identity and owners.
  project                     = var.project_id
  name                        = local.state_bucket
  location                    = var.state_bucket.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = var.state_bucket.soft_delete_days * 86400
  }

  # Keep the newest noncurrent_versions older versions of each state file.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      with_state         = "ARCHIVED"
      num_newer_versions = var.state_bucket.noncurrent_versions
    }
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.services]
}

# Plan reads the state (plans run with -lock=false); apply reads and writes it, lock
# included; the publisher reads it for the outputs contract (`terraform output`).
resource "google_storage_bucket_iam_member" "state_plan" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.ci_plan.member
}

resource "google_storage_bucket_iam_member" "state_apply" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.ci_apply.member
}

resource "google_storage_bucket_iam_member" "state_publish" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.ci_publish.member
}
