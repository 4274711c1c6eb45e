output "activation_policy" {
  description = "ALWAYS (running) or NEVER (stopped while paused)."
  value       = google_sql_database_instance.primary.settings[0].activation_policy
}

output "connection_name" {
  description = "Instance connection name, <project>:<region>:<instance>, for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.primary.connection_name
}

output "database_names" {
  description = "The KFP databases by pipeline-install-config role: cache (cacheDb), mlmd (mlmdDb), pipeline (pipelineDb)."
  value       = { for k, db in google_sql_database.kfp : k => db.name }
}

output "instance_name" {
  description = "Name of the Cloud SQL instance."
  value       = google_sql_database_instance.primary.name
}

output "password_secret" {
  description = "Full id of the Secret Manager secret holding the KFP user's password: projects/<project>/secrets/<secret_id>. It has a version once this output is known."
  value       = google_secret_manager_secret.password.id
  depends_on  = [google_secret_manager_secret_version.password, google_secret_manager_secret_iam_member.reader]
}

output "password_secret_id" {
  description = "Short secret_id of the password secret (gcloud secrets versions access latest --secret=<this>)."
  value       = google_secret_manager_secret.password.secret_id
  depends_on  = [google_secret_manager_secret_version.password, google_secret_manager_secret_iam_member.reader]
}

output "private_ip_address" {
  description = "Private IP address of the instance in the VPC (for direct connections; the Auth Proxy needs only connection_name)."
  value       = google_sql_database_instance.primary.private_ip_address
}

output "user_name" {
  description = "MySQL user KFP connects as; it exists, with the password in the secret, once this output is known."
  value       = google_sql_user.kfp.name
}
