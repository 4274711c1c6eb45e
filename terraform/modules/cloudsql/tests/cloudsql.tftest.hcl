# Offline: google is mocked; random stays real, so the ephemeral random_password is
# generated as in production and fed to the write-only arguments.
mock_provider "google" {
  mock_resource "google_secret_manager_secret" {
    defaults = {
      id = "projects/demo-project/secrets/demo-kfp-db-password"
    }
  }
  mock_resource "google_sql_database_instance" {
    defaults = {
      connection_name    = "demo-project:europe-west1:demo-kfp"
      private_ip_address = "10.10.0.3"
    }
  }
}

variables {
  prefix          = "demo"
  project_id      = "demo-project"
  region          = "europe-west1"
  private_network = "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/demo-vpc"
}

run "instance_is_private_protected_and_backed_up" {
  command = plan

  assert {
    condition     = google_sql_database_instance.primary.name == "demo-kfp"
    error_message = "instance name must be <prefix>-kfp, got ${google_sql_database_instance.primary.name}"
  }
  assert {
    condition     = google_sql_database_instance.primary.database_version == "MYSQL_8_0"
    error_message = "MLMD 1.14 needs mysql_native_password: the instance must stay on MYSQL_8_0"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].ip_configuration[0].ipv4_enabled == false
    error_message = "the instance must have no public IP"
  }
  assert {
    condition     = length(google_sql_database_instance.primary.settings[0].ip_configuration[0].authorized_networks) == 0
    error_message = "no authorized networks may be opened"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].ip_configuration[0].private_network == var.private_network
    error_message = "the instance must get its private IP from var.private_network"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].ip_configuration[0].ssl_mode == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    error_message = "default ssl_mode must require TLS with client certificates"
  }
  assert {
    condition     = google_sql_database_instance.primary.deletion_protection == true
    error_message = "Terraform's deletion_protection must be on"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].deletion_protection_enabled == true
    error_message = "Cloud SQL's own deletion protection must be on"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].enabled == true
    error_message = "automated backups must be on"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].binary_log_enabled == true
    error_message = "binary logging (MySQL point-in-time recovery) must be on"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].backup_retention_settings[0].retained_backups == 8
    error_message = "8 backups are kept by default (more than the 7 days of binary logs, as the API requires)"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].transaction_log_retention_days == 7
    error_message = "7 days of binary logs are kept by default"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].retain_backups_on_delete == true
    error_message = "backups must outlive the instance by default"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].availability_type == "ZONAL"
    error_message = "ha = false must give a ZONAL instance"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].tier == "db-custom-1-3840" && google_sql_database_instance.primary.settings[0].edition == "ENTERPRISE"
    error_message = "default tier must be db-custom-1-3840 on the Enterprise edition"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].disk_autoresize == true
    error_message = "disk autoresize must be on"
  }
  assert {
    condition = (
      contains(google_sql_database_instance.primary.settings[0].database_flags, { name = "local_infile", value = "off" }) &&
      contains(google_sql_database_instance.primary.settings[0].database_flags, { name = "skip_show_database", value = "on" })
    )
    error_message = "local_infile must be off and skip_show_database on"
  }
  assert {
    condition     = length(google_sql_database_instance.primary.settings[0].insights_config) == 0
    error_message = "Query Insights is off unless asked for"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].maintenance_window[0].day == 7 && google_sql_database_instance.primary.settings[0].maintenance_window[0].hour == 3
    error_message = "default maintenance window is Sunday 03:00 UTC"
  }
}

run "kfp_databases_and_user" {
  command = plan

  assert {
    condition     = toset([for db in google_sql_database.kfp : db.name]) == toset(["mlpipeline", "metadb", "cachedb"])
    error_message = "the KFP databases must be mlpipeline, metadb and cachedb"
  }
  assert {
    condition     = alltrue([for db in google_sql_database.kfp : db.charset == "utf8mb4" && db.collation == "utf8mb4_0900_ai_ci"])
    error_message = "every KFP database must be utf8mb4"
  }
  assert {
    condition     = alltrue([for db in google_sql_database.kfp : db.deletion_policy == "ABANDON"])
    error_message = "removing a database from the map must not drop it"
  }
  assert {
    condition     = output.database_names == { cache = "cachedb", mlmd = "metadb", pipeline = "mlpipeline" }
    error_message = "database_names must map the pipeline-install-config roles to names"
  }
  assert {
    condition     = google_sql_user.kfp.name == "kfp" && google_sql_user.kfp.host == "%"
    error_message = "the KFP user must be kfp@%"
  }
  assert {
    condition     = google_sql_user.kfp.password_wo == null && google_sql_user.kfp.password_wo_version == 1
    error_message = "the password must be set through the write-only password_wo, versioned by password_version"
  }
  assert {
    condition     = google_secret_manager_secret.password.secret_id == "demo-kfp-db-password"
    error_message = "the password secret must be named <instance>-db-password"
  }
  assert {
    condition     = length(google_secret_manager_secret.password.replication[0].auto) == 1 && length(google_secret_manager_secret.password.replication[0].user_managed) == 0
    error_message = "without locations the secret must replicate automatically"
  }
  assert {
    condition     = google_secret_manager_secret_version.password.secret_data_wo == null && google_secret_manager_secret_version.password.secret_data_wo_version == 1
    error_message = "the secret version must be written through the write-only secret_data_wo"
  }
  assert {
    condition     = length(google_secret_manager_secret_iam_member.reader) == 0
    error_message = "nobody reads the secret unless listed in password_secret.readers"
  }
}

# A static check on the source: the password may reach Google only through write-only
# arguments, never through password, secret_data or root_password (which are stored in state).
run "password_is_never_a_plain_argument" {
  command = plan

  assert {
    condition = length(regexall("(?m)^\\s*(password|secret_data|root_password)\\s*=", join("\n", [
      for f in fileset(path.module, "*.tf") : file("${path.module}/${f}")
    ]))) == 0
    error_message = "password, secret_data and root_password would put the password in state: use password_wo / secret_data_wo"
  }
  assert {
    condition     = length(regexall("(?m)^resource \"random_password\"", file("${path.module}/user.tf"))) == 0
    error_message = "the password must come from the ephemeral random_password, not the resource (whose result is stored in state)"
  }
}

run "ha_custom_settings" {
  command = plan

  variables {
    ha                          = true
    tier                        = "db-custom-2-7680"
    name_suffix                 = "b"
    ssl_mode                    = "ENCRYPTED_ONLY"
    query_insights              = true
    allocated_ip_range          = "demo-psa"
    password_version            = 3
    labels                      = { env = "test" }
    database_flags              = { long_query_time = "2" }
    private_services_connection = "demo-vpc:servicenetworking.googleapis.com"
    backup                      = { retained_backups = 30, location = "eu", start_time = "23:00" }
    password_secret = {
      locations = ["europe-west1", "europe-west4"]
      readers   = { ci = "serviceAccount:ci-deploy@demo-project.iam.gserviceaccount.com" }
    }
  }

  assert {
    condition     = google_sql_database_instance.primary.settings[0].availability_type == "REGIONAL"
    error_message = "ha = true must give a REGIONAL instance"
  }
  assert {
    condition     = google_sql_database_instance.primary.name == "demo-kfp-b"
    error_message = "name_suffix must be appended as -<suffix>, got ${google_sql_database_instance.primary.name}"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].tier == "db-custom-2-7680"
    error_message = "tier must be passed through"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].ip_configuration[0].ssl_mode == "ENCRYPTED_ONLY"
    error_message = "ssl_mode must be passed through"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].ip_configuration[0].allocated_ip_range == "demo-psa"
    error_message = "allocated_ip_range must be passed through"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].insights_config[0].query_insights_enabled == true && google_sql_database_instance.primary.settings[0].insights_config[0].record_client_address == false
    error_message = "query_insights = true must enable Query Insights without client addresses"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].user_labels == tomap({ env = "test" }) && google_secret_manager_secret.password.labels == tomap({ env = "test" })
    error_message = "labels must reach the instance and the secret"
  }
  assert {
    condition     = contains(google_sql_database_instance.primary.settings[0].database_flags, { name = "long_query_time", value = "2" }) && length(google_sql_database_instance.primary.settings[0].database_flags) == 3
    error_message = "extra database_flags must be added next to the pinned ones"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].backup_retention_settings[0].retained_backups == 30 && google_sql_database_instance.primary.settings[0].backup_configuration[0].location == "eu"
    error_message = "backup settings must be passed through"
  }
  assert {
    condition     = terraform_data.private_services_access.input == "demo-vpc:servicenetworking.googleapis.com"
    error_message = "the private services access dependency must be recorded"
  }
  assert {
    condition     = google_sql_user.kfp.password_wo_version == 3 && google_secret_manager_secret_version.password.secret_data_wo_version == 3
    error_message = "password_version must drive both write-only versions"
  }
  assert {
    condition     = toset([for r in google_secret_manager_secret.password.replication[0].user_managed[0].replicas : r.location]) == toset(["europe-west1", "europe-west4"]) && length(google_secret_manager_secret.password.replication[0].auto) == 0
    error_message = "locations must give user-managed replication in exactly those regions"
  }
  assert {
    condition     = google_secret_manager_secret_iam_member.reader["ci"].role == "roles/secretmanager.secretAccessor" && google_secret_manager_secret_iam_member.reader["ci"].member == "serviceAccount:ci-deploy@demo-project.iam.gserviceaccount.com"
    error_message = "readers must get secretAccessor on the secret only"
  }
}

# apply: the ephemeral random_password (real, not mocked) is opened and written through
# the write-only arguments; state keeps no trace of it.
run "apply_keeps_password_out_of_state" {
  assert {
    condition     = google_sql_user.kfp.password_wo == null && google_secret_manager_secret_version.password.secret_data_wo == null
    error_message = "write-only arguments must read back as null after apply"
  }
  assert {
    condition     = output.password_secret == "projects/demo-project/secrets/demo-kfp-db-password"
    error_message = "password_secret must be the full secret id, got ${output.password_secret}"
  }
  assert {
    condition     = output.password_secret_id == "demo-kfp-db-password"
    error_message = "password_secret_id must be the short secret_id"
  }
  assert {
    condition     = output.connection_name == "demo-project:europe-west1:demo-kfp" && output.instance_name == "demo-kfp"
    error_message = "connection_name and instance_name must come from the instance"
  }
  assert {
    condition     = output.private_ip_address == "10.10.0.3" && output.user_name == "kfp"
    error_message = "private_ip_address and user_name must come from the instance and the user"
  }
}

run "rejects_bad_prefix" {
  command = plan
  variables {
    prefix = "Demo_1"
  }
  expect_failures = [var.prefix]
}

run "rejects_f1_micro_below_kfps_own_mysql_request" {
  command = plan
  variables {
    tier = "db-f1-micro"
  }
  expect_failures = [var.tier]
}

run "rejects_ha_on_the_shared_core_tier" {
  command = plan
  variables {
    tier = "db-g1-small"
    ha   = true
  }
  expect_failures = [var.tier]
}

run "g1_small_for_dev" {
  command = plan
  variables {
    tier = "db-g1-small"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].tier == "db-g1-small" && google_sql_database_instance.primary.settings[0].edition == "ENTERPRISE"
    error_message = "db-g1-small must be accepted (Enterprise edition) for dev"
  }
}

# Paused: the instance is stopped with activation_policy NEVER; nothing else about it
# changes (no replacement, the data and backups stay).
run "paused_stops_the_instance" {
  command = plan
  variables {
    paused = true
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].activation_policy == "NEVER"
    error_message = "paused must set activation_policy NEVER"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].enabled && google_sql_database_instance.primary.deletion_protection
    error_message = "pausing must not touch backups or deletion protection"
  }
}

run "running_by_default" {
  command = plan
  assert {
    condition     = google_sql_database_instance.primary.settings[0].activation_policy == "ALWAYS"
    error_message = "an instance that is not paused must be ALWAYS on"
  }
}

run "rejects_unencrypted_ssl_mode" {
  command = plan
  variables {
    ssl_mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
  }
  expect_failures = [var.ssl_mode]
}

run "rejects_bad_name_suffix" {
  command = plan
  variables {
    name_suffix = "-b"
  }
  expect_failures = [var.name_suffix]
}

run "rejects_missing_kfp_database" {
  command = plan
  variables {
    databases = { pipeline = "mlpipeline", cache = "cachedb" }
  }
  expect_failures = [var.databases]
}

run "rejects_hyphenated_database_name" {
  command = plan
  variables {
    databases = { pipeline = "ml-pipeline", mlmd = "metadb", cache = "cachedb" }
  }
  expect_failures = [var.databases]
}

run "rejects_relaxing_pinned_flags" {
  command = plan
  variables {
    database_flags = { local_infile = "on" }
  }
  expect_failures = [var.database_flags]
}

run "rejects_too_many_backups" {
  command = plan
  variables {
    backup = { retained_backups = 0 }
  }
  expect_failures = [var.backup]
}

run "rejects_logs_kept_as_long_as_backups" {
  command = plan
  variables {
    backup = { retained_backups = 7, transaction_log_retention_days = 7 }
  }
  expect_failures = [var.backup]
}

run "accepts_fewer_days_of_logs_than_backups" {
  command = plan
  variables {
    backup = { retained_backups = 3, transaction_log_retention_days = 2 }
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].backup_configuration[0].transaction_log_retention_days == 2
    error_message = "3 backups and 2 days of logs are a valid pair"
  }
}

run "rejects_odd_custom_vcpus" {
  command = plan
  variables {
    tier = "db-custom-3-11520"
  }
  expect_failures = [var.tier]
}

run "rejects_custom_memory_off_256" {
  command = plan
  variables {
    tier = "db-custom-2-7000"
  }
  expect_failures = [var.tier]
}

run "rejects_too_much_memory_per_vcpu" {
  command = plan
  variables {
    tier = "db-custom-1-7680"
  }
  expect_failures = [var.tier]
}

run "rejects_too_little_memory" {
  command = plan
  variables {
    tier = "db-custom-4-3584"
  }
  expect_failures = [var.tier]
}

run "accepts_valid_custom_tiers" {
  command = plan
  variables {
    tier = "db-custom-4-15360"
  }
  assert {
    condition     = google_sql_database_instance.primary.settings[0].tier == "db-custom-4-15360"
    error_message = "4 vCPUs with 15 GiB is a valid custom machine"
  }
}

run "deletion_protection_can_be_lifted_for_a_teardown" {
  command = plan
  variables {
    deletion_protection = false
  }
  assert {
    condition     = google_sql_database_instance.primary.deletion_protection == false && google_sql_database_instance.primary.settings[0].deletion_protection_enabled == false
    error_message = "deletion_protection = false must lift both the Terraform and the Cloud SQL protection"
  }
}

run "rejects_long_binlog_retention" {
  command = plan
  variables {
    backup = { transaction_log_retention_days = 14 }
  }
  expect_failures = [var.backup]
}

run "rejects_bad_maintenance_window" {
  command = plan
  variables {
    maintenance_window = { day = 0, hour = 24 }
  }
  expect_failures = [var.maintenance_window]
}

run "rejects_fractional_password_version" {
  command = plan
  variables {
    password_version = 1.5
  }
  expect_failures = [var.password_version]
}

run "rejects_network_name_instead_of_self_link" {
  command = plan
  variables {
    private_network = "demo-vpc"
  }
  expect_failures = [var.private_network]
}

run "rejects_root_user" {
  command = plan
  variables {
    user_name = "root"
  }
  expect_failures = [var.user_name]
}

run "rejects_bad_secret_reader" {
  command = plan
  variables {
    password_secret = { readers = { ci = "ci-deploy@demo-project.iam.gserviceaccount.com" } }
  }
  expect_failures = [var.password_secret]
}
