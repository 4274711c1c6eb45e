# GitHub Actions -> Google Cloud without keys. The provider admits only tokens of ONE
# repository, pinned by its numeric id (names can be deleted and re-registered by someone
# else; ids cannot), and only for the subjects CI uses. Which of those jobs may act as which
# service account is decided by the workloadIdentityUser bindings in iam.tf.

locals {
  # The one environment this project serves (a validation on var.ci makes it exactly one).
  environment     = one(var.ci.apply_environments)
  variable_suffix = upper(replace(local.environment, "-", "_"))

  pool_id     = "${var.prefix}-github"
  provider_id = "github"
  pool_name   = "projects/${var.project_number}/locations/global/workloadIdentityPools/${local.pool_id}"

  # The OIDC subjects the service accounts are bound to (iam.tf). The provider admits only
  # these, on top of the repository id: a token of any other job of the repository (a push
  # to a feature branch, a workflow_dispatch elsewhere) gets no federated token at all.
  subjects = sort(concat(
    [for e in var.ci.apply_environments : "repo:${var.github_repository}:environment:${e}"],
    [for s in var.ci.plan_subjects : "repo:${var.github_repository}:${s}"],
  ))

  attribute_condition = join(" && ", concat(
    ["assertion.repository_id == '${var.github_repository_id}'"],
    var.github_owner_id == null ? [] : ["assertion.repository_owner_id == '${var.github_owner_id}'"],
    ["(${join(" || ", [for s in local.subjects : "assertion.sub == '${s}'"])})"],
  ))
}

resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project_id
  workload_identity_pool_id = local.pool_id
  display_name              = "GitHub Actions (${var.prefix})"
  description               = "GitHub Actions of ${var.github_repository} (managed by Terraform, terraform/bootstrap)."

  depends_on = [google_project_service.services]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125:checkov cannot evaluate a condition built from variables. The condition pins assertion.repository_id and admits only the exact subjects assertion.sub == 'repo:<owner>/<name>:environment:<env>' or ':pull_request' that the service accounts are bound to; tests/bootstrap.tftest.hcl asserts the rendered string.
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = local.provider_id
  display_name                       = "GitHub OIDC"
  description                        = "Tokens of repository id ${var.github_repository_id} (${var.github_repository}) only."

  attribute_condition = local.attribute_condition

  # Claims must be mapped before a condition or a principalSet can use them. environment is
  # present only in jobs that name an environment.
  attribute_mapping = {
    "google.subject"                = "assertion.sub"
    "attribute.environment"         = "assertion.environment"
    "attribute.event_name"          = "assertion.event_name"
    "attribute.ref"                 = "assertion.ref"
    "attribute.repository"          = "assertion.repository"
    "attribute.repository_id"       = "assertion.repository_id"
    "attribute.repository_owner_id" = "assertion.repository_owner_id"
  }

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}
