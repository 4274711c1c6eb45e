output "emails" {
  description = "Google service account emails, keyed cloudsql_proxy, pipeline_runner and ui; annotate each Kubernetes service account with iam.gke.io/gcp-service-account = its email. Known once the bindings exist."
  value       = { for k, sa in google_service_account.service_account : k => sa.email }
  depends_on = [
    google_service_account_iam_member.workload_identity,
    google_storage_bucket_iam_member.bucket,
    google_project_iam_member.cloudsql_client,
  ]
}

output "kubernetes_service_accounts" {
  description = "Kubernetes service account names bound above (in namespace), keyed like emails."
  value       = var.kubernetes_service_accounts
}

output "namespace" {
  description = "Kubernetes namespace of the bound service accounts."
  value       = var.namespace
}
