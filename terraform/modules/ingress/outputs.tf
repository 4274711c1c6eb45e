output "dns_record_name" {
  description = "Name of the A record created for domain (with the trailing dot), or null when dns is not set."
  value       = one(google_dns_record_set.ui[*].name)
}

output "domain" {
  description = "The KFP UI's domain (for the ManagedCertificate and the Ingress host). Known once the IAP access is in place."
  value       = var.domain

  depends_on = [google_project_iam_member.iap_accessor, google_dns_record_set.ui]
}

output "iap_client_id_secret" {
  description = "secret_id of the Secret Manager secret that holds the IAP OAuth client id (read it with gcloud secrets versions access latest --secret=<this> --project=<project_id>). Empty until a person adds a version."
  value       = google_secret_manager_secret.iap_client_id.secret_id
}

output "iap_client_secret_secret" {
  description = "secret_id of the Secret Manager secret that holds the IAP OAuth client secret. Empty until a person adds a version."
  value       = google_secret_manager_secret.iap_client_secret.secret_id
}

output "static_ip_address" {
  description = "The global static IPv4 address; the domain's A record must point at it."
  value       = google_compute_global_address.ui.address
}

output "static_ip_name" {
  description = "Name of the global static IP, for the Ingress annotation kubernetes.io/ingress.global-static-ip-name. Known once the IAP access is in place."
  value       = google_compute_global_address.ui.name

  depends_on = [google_project_iam_member.iap_accessor]
}
