output "emails" {
  description = "Google service account emails, keyed like the outputs contract's service_accounts: cloudsql_proxy, inverse_proxy (\"\" unless enabled), object_store, pipeline_runner, ui and viewer. Annotate each KSA with iam.gke.io/gcp-service-account = its email (object_store has no KSA: it holds the 2.14.4 HMAC key). Known once the bindings exist."
  value = merge(
    { for k, sa in google_service_account.service_account : k => sa.email },
    { inverse_proxy = var.inverse_proxy.enabled ? google_service_account.service_account["inverse_proxy"].email : "" },
    { object_store = google_service_account.object_store.email },
  )
  depends_on = [
    google_service_account_iam_member.workload_identity,
    google_storage_bucket_iam_member.bucket,
    google_storage_bucket_iam_member.object_store,
    google_project_iam_member.cloudsql_client,
    google_service_account_iam_member.inverse_proxy_user,
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
