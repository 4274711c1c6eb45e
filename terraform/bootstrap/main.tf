# Run once, by a person with Owner on the project: the APIs the platform needs, the
# Terraform state bucket, the GitHub Workload Identity pool and provider, and the two CI
# service accounts (plan: read-only, from pull requests; apply: from protected GitHub
# environments only). Everything else is created by terraform/environments/<env> through CI.

locals {
  # The APIs the platform's Terraform and workloads call. Never disabled on destroy: other
  # things in the project may use them.
  services = setunion([
    "artifactregistry.googleapis.com",    # images the pipelines run
    "billingbudgets.googleapis.com",      # modules/budget
    "binaryauthorization.googleapis.com", # modules/gke enforces the project's policy
    "cloudbuild.googleapis.com",          # kfp-gcp images push --builder cloudbuild
    "cloudbilling.googleapis.com",        # billing account IAM (iam.tf)
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "dns.googleapis.com",            # modules/ingress, optional A record
    "iam.googleapis.com",            # service accounts, Workload Identity pools
    "iamcredentials.googleapis.com", # CI impersonates its service accounts
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com", # budget notification channels, GKE metrics
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com", # private services access for Cloud SQL
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com", # token exchange for Workload Identity Federation
  ], var.extra_services)
}

resource "google_project_service" "services" {
  for_each = local.services

  project                    = var.project_id
  service                    = each.key
  disable_on_destroy         = false
  disable_dependent_services = false
}

# Enabling Compute Engine creates the Compute Engine default service account and, unless
# the organisation policy iam.automaticIamGrantsForDefaultServiceAccounts stops it, grants
# it roles/editor on the project. The apply identity can manage service accounts' IAM
# (roles/iam.serviceAccountAdmin), so it could make itself able to act as that account:
# remove every project role of the default accounts (Compute Engine, App Engine) instead.
# The provider does this once, at creation, after the APIs are enabled (README.md, "The
# default service accounts", has the check).
resource "google_project_default_service_accounts" "deprivilege" {
  project        = var.project_id
  action         = "DEPRIVILEGE"
  restore_policy = "NONE" # destroying this resource never gives Editor back

  depends_on = [google_project_service.services]
}
