locals {
  name = coalesce(var.name, "${var.prefix}-kfp-artifacts")
  # From warm to cold; a transition to a class applies to objects in every warmer one.
  warmer_classes = ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]
}

resource "google_storage_bucket" "bucket" {
  # checkov:skip=CKV_GCP_62:Usage logs are legacy; reads and writes are audited with Cloud Audit Logs (Data Access logs for storage.googleapis.com, set at project level).
  # checkov:skip=CKV_GCP_78:Versioning is optional (var.versioning): soft delete already keeps deleted and overwritten objects restorable, and KFP writes each artifact once under a run-unique path.
  project                     = var.project_id
  name                        = local.name
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_days * 86400
  }

  versioning {
    enabled = var.versioning.enabled
  }

  dynamic "lifecycle_rule" {
    for_each = var.lifecycle_delete_after_days
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = [lifecycle_rule.key]
      }
      action {
        type = "Delete"
      }
    }
  }

  # Colder classes as objects age (each rule moves what is still in a warmer class); the
  # objects stay where they are, so every path KFP's metadata records keeps working.
  dynamic "lifecycle_rule" {
    for_each = var.lifecycle_storage_class
    content {
      condition {
        age                   = lifecycle_rule.value
        matches_storage_class = slice(local.warmer_classes, 0, index(local.warmer_classes, lifecycle_rule.key))
      }
      action {
        type          = "SetStorageClass"
        storage_class = lifecycle_rule.key
      }
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.versioning.enabled && var.versioning.noncurrent_delete_after_days > 0 ? [var.versioning.noncurrent_delete_after_days] : []
    content {
      condition {
        days_since_noncurrent_time = lifecycle_rule.value
        with_state                 = "ARCHIVED"
      }
      action {
        type = "Delete"
      }
    }
  }
}
