# The KFP user's password: generated in memory on every plan and apply (ephemeral, never
# in state or plan files), written only through write-only arguments, and only when
# password_version changes. Secret Manager is the single place it is kept.
ephemeral "random_password" "kfp" {
  length  = 32
  special = false # it goes into DSNs and command-line flags unescaped
}

resource "google_secret_manager_secret" "password" {
  project   = var.project_id
  secret_id = "${local.name}-db-password"
  labels    = var.labels

  replication {
    dynamic "auto" {
      for_each = length(var.password_secret.locations) == 0 ? [1] : []
      content {}
    }

    dynamic "user_managed" {
      for_each = length(var.password_secret.locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.password_secret.locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }
}

# A rotation (password_version + 1) replaces this version: secret_data_wo_version forces a
# new one. The new version is created first, then the user gets the new password, and only
# then is the old version disabled (never destroyed): whatever step fails, the password the
# database still accepts is an enabled version in Secret Manager (README, "The password").
resource "google_secret_manager_secret_version" "password" {
  secret                 = google_secret_manager_secret.password.id
  secret_data_wo         = ephemeral.random_password.kfp.result
  secret_data_wo_version = var.password_version
  deletion_policy        = "DISABLE"

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = var.password_secret.readers

  project   = var.project_id
  secret_id = google_secret_manager_secret.password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

# Created with Cloud SQL for MySQL 8.0's default authentication plugin,
# mysql_native_password, which ML Metadata 1.14 needs.
resource "google_sql_user" "kfp" {
  project             = var.project_id
  instance            = google_sql_database_instance.primary.name
  name                = var.user_name
  host                = "%"
  password_wo         = ephemeral.random_password.kfp.result
  password_wo_version = var.password_version

  lifecycle {
    # A replaced secret (new replication or name) gets a new version, hence a new password:
    # recreate the user in the same apply so both hold the same one. The id only changes
    # on replacement, so label updates on the secret leave the user alone.
    replace_triggered_by = [google_secret_manager_secret.password.id]
  }

  # Secret first: if setting the password fails, the database keeps the old password, whose
  # version is still enabled, and KFP keeps running; the other order could leave the
  # database with a password that nothing stores.
  depends_on = [google_secret_manager_secret_version.password]
}
