# The CI build identity, <prefix>-ci-build: builds and pushes component images
# (`kfp-gcp images push`) from the same protected GitHub environment as the apply identity,
# in a separate step with its own token. It can push images and run Cloud Builds; it cannot
# change infrastructure, read secrets or deploy. Which repository it may push to is granted
# by the environment (modules/registry writers), where the repository is.
#
# Here rather than in the environment: who in GitHub may act as an identity is decided by
# the person who runs the bootstrap (every Workload Identity binding is in this stage), and
# the apply identity may not grant Cloud Build's project role (grantable_roles).

locals {
  build_roles = toset([
    "roles/cloudbuild.builds.editor", # gcloud builds submit (--builder cloudbuild)
  ])
}

resource "google_service_account" "ci_build" {
  project      = var.project_id
  account_id   = "${var.prefix}-ci-build"
  display_name = "CI image build (${var.prefix})"
  description  = "Builds and pushes component images from protected GitHub environments of ${var.github_repository} (managed by terraform/bootstrap)."

  depends_on = [google_project_service.services]
}

resource "google_service_account_iam_member" "ci_build_wif" {
  for_each = local.apply_principals

  service_account_id = google_service_account.ci_build.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value

  depends_on = [google_iam_workload_identity_pool_provider.github]
}

resource "google_project_iam_member" "ci_build" {
  # checkov:skip=CKV_GCP_49:Cloud Build's editor role lets a build run as a service account the caller may act as; the build identity may act only as itself (below), so a build gains nothing it does not already have
  for_each = local.build_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.ci_build.member
}

# A Cloud Build runs as this same identity (`serviceAccount` in its config): submitting
# it needs iam.serviceAccounts.actAs on it, granted on this one account only.
resource "google_service_account_iam_member" "ci_build_runs_builds_as_itself" {
  service_account_id = google_service_account.ci_build.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.ci_build.member
}

# `kfp-gcp images push --env ENV` reads the environment's outputs contract (the registry's
# address) with `terraform output`: read access to the state, as the publisher has. The state
# holds no secret (the database password is ephemeral and write-only).
resource "google_storage_bucket_iam_member" "state_build" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.ci_build.member
}
