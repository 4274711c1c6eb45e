# The KFP UI's front door: the global static IP the GKE Ingress (gce class) takes by name
# (kubernetes.io/ingress.global-static-ip-name), an optional DNS A record for it, who may
# pass IAP, and two empty Secret Manager secrets for the IAP OAuth client, which a person
# creates in the console (README.md says how and why Terraform cannot).

locals {
  # IAP access is granted on the project, not on the backend service: the GKE Ingress
  # controller generates the backend service's name (k8s1-<hash>-<namespace>-<service>-...)
  # and may change it when the Service or Ingress changes, so a binding on it would not be
  # stable. Project level covers every IAP-secured backend in the project; keep other
  # IAP-secured apps out of this project, or they share this list.
  # Keyed by member, so the CI identity listed in iap_members as well is granted once. The
  # CI identity is the publisher's, not the apply identity's: only publishing calls KFP.
  ci_publish_member = "serviceAccount:${var.ci_publish_service_account_email}"
  iap_members       = { for m in setunion(var.iap_members, [local.ci_publish_member]) : m => m }
}

resource "google_compute_global_address" "ui" {
  project      = var.project_id
  name         = "${var.prefix}-kfp-ui"
  description  = "Static IP of the ${var.prefix} KFP UI Ingress (managed by Terraform)."
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
  labels       = var.labels
}

resource "google_dns_record_set" "ui" {
  count = var.dns == null ? 0 : 1

  project      = coalesce(var.dns.project, var.project_id)
  managed_zone = var.dns.managed_zone
  name         = "${var.domain}."
  type         = "A"
  ttl          = var.dns.ttl
  rrdatas      = [google_compute_global_address.ui.address]
}

resource "google_project_iam_member" "iap_accessor" {
  for_each = local.iap_members

  project = var.project_id
  role    = "roles/iap.httpsResourceAccessor"
  member  = each.value
}

# Containers only: a person adds the versions (README.md). Terraform never sees the values.
resource "google_secret_manager_secret" "iap_client_id" {
  project             = var.project_id
  secret_id           = "${var.prefix}-iap-client-id"
  labels              = var.labels
  deletion_protection = var.deletion_protection

  replication {
    auto {}
  }
}

# The publisher reads the client id (the audience of its ID tokens, kfp-gcp reads it from
# here); never the client secret.
resource "google_secret_manager_secret_iam_member" "iap_client_id_publisher" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.iap_client_id.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.ci_publish_member
}

resource "google_secret_manager_secret" "iap_client_secret" {
  project             = var.project_id
  secret_id           = "${var.prefix}-iap-client-secret"
  labels              = var.labels
  deletion_protection = var.deletion_protection

  replication {
    auto {}
  }
}
