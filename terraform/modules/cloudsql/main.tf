locals {
  name = var.name_suffix == "" ? "${var.prefix}-kfp" : "${var.prefix}-kfp-${var.name_suffix}"

  # Pinned last, so database_flags can add flags but not relax these two (its validation
  # also rejects them). CIS MySQL benchmark items; checkov CKV_GCP_50 checks local_infile.
  database_flags = merge(var.database_flags, {
    local_infile       = "off"
    skip_show_database = "on"
  })
}

# Stands for the private services access connection, so the instance can wait for it:
# depends_on takes resources, not variables. Its input is only recorded.
resource "terraform_data" "private_services_access" {
  input = var.private_services_connection
}

resource "google_sql_database_instance" "primary" {
  project = var.project_id
  name    = local.name
  region  = var.region
  # 8.0, not 8.4: ML Metadata 1.14's server needs mysql_native_password, the default
  # plugin of Cloud SQL for MySQL 8.0 and disabled by default in MySQL 8.4 (README).
  database_version    = "MYSQL_8_0"
  deletion_protection = var.deletion_protection

  settings {
    # Enterprise, not Enterprise Plus: db-custom-* machine types exist only in Enterprise.
    edition = "ENTERPRISE"
    tier    = var.tier
    # Paused: the instance is stopped; storage, backups and the IP stay (and are billed).
    activation_policy           = var.paused ? "NEVER" : "ALWAYS"
    availability_type           = var.ha ? "REGIONAL" : "ZONAL"
    deletion_protection_enabled = var.deletion_protection
    disk_autoresize             = true
    disk_autoresize_limit       = var.disk.autoresize_limit
    disk_size                   = var.disk.size
    disk_type                   = var.disk.type
    retain_backups_on_delete    = var.backup.retain_on_delete
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled       = false
      private_network    = var.private_network
      allocated_ip_range = var.allocated_ip_range
      ssl_mode           = var.ssl_mode
    }

    backup_configuration {
      enabled = true
      # Binary logging is MySQL's point-in-time recovery (point_in_time_recovery_enabled
      # is for PostgreSQL and SQL Server); REGIONAL availability also requires it.
      binary_log_enabled             = true
      location                       = var.backup.location
      start_time                     = var.backup.start_time
      transaction_log_retention_days = var.backup.transaction_log_retention_days

      backup_retention_settings {
        retained_backups = var.backup.retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = var.maintenance_window.day
      hour         = var.maintenance_window.hour
      update_track = var.maintenance_window.update_track
    }

    dynamic "database_flags" {
      for_each = local.database_flags
      content {
        name  = database_flags.key
        value = database_flags.value
      }
    }

    dynamic "insights_config" {
      for_each = var.query_insights ? [1] : []
      content {
        query_insights_enabled  = true
        query_plans_per_minute  = 5
        query_string_length     = 1024
        record_application_tags = false
        record_client_address   = false
      }
    }
  }

  lifecycle {
    # disk_autoresize grows the disk; the configured size is only the starting point.
    ignore_changes = [settings[0].disk_size]
  }

  depends_on = [terraform_data.private_services_access]
}

resource "google_sql_database" "kfp" {
  for_each = var.databases

  project   = var.project_id
  instance  = google_sql_database_instance.primary.name
  name      = each.value
  charset   = "utf8mb4"
  collation = "utf8mb4_0900_ai_ci"
  # Removing a key from var.databases (or renaming one) must not DROP a database full of
  # KFP runs: Terraform forgets it and the data stays on the instance.
  deletion_policy = "ABANDON"
}
