output "ci_apply_principals" {
  description = "The exact Workload Identity principals (one OIDC subject per GitHub environment) that may act as the CI apply service account, and as the CI publish service account."
  value       = local.apply_principals
}

output "ci_apply_service_account_email" {
  description = "Email of the CI apply service account (google-github-actions/auth service_account for the infra and manifests steps of the deploy job; the environment's settings.ci_apply_service_account). Known once its roles and bindings exist."
  value       = google_service_account.ci_apply.email

  depends_on = [
    google_billing_account_iam_member.ci_apply,
    google_project_iam_member.ci_apply,
    google_project_iam_member.ci_apply_iam_admin,
    google_service_account_iam_member.ci_apply_wif,
    google_storage_bucket_iam_member.state_apply,
  ]
}

output "ci_build_service_account_email" {
  description = "Email of the CI build identity (google-github-actions/auth service_account in the step that runs `kfp-gcp images push`; the environment's settings ci_build_service_account). Known once its roles and bindings exist."
  value       = google_service_account.ci_build.email

  depends_on = [
    google_project_iam_member.ci_build,
    google_service_account_iam_member.ci_build_runs_builds_as_itself,
    google_service_account_iam_member.ci_build_wif,
  ]
}

output "ci_publish_service_account_email" {
  description = "Email of the CI publish service account (google-github-actions/auth service_account for the pipelines step of the deploy job; the environment's settings.ci_publish_service_account, which modules/ingress grants IAP access). Known once its bindings exist."
  value       = google_service_account.ci_publish.email

  depends_on = [
    google_service_account_iam_member.ci_publish_id_tokens,
    google_service_account_iam_member.ci_publish_wif,
    google_storage_bucket_iam_member.state_publish,
  ]
}

output "ci_plan_principals" {
  description = "The exact Workload Identity principals that may act as the CI plan service account (by default only pull_request jobs)."
  value       = local.plan_principals
}

output "ci_plan_service_account_email" {
  description = "Email of the CI plan service account (google-github-actions/auth service_account in plan jobs). Known once its roles and bindings exist."
  value       = google_service_account.ci_plan.email

  depends_on = [
    google_billing_account_iam_member.ci_plan,
    google_project_iam_member.ci_plan,
    google_service_account_iam_member.ci_plan_wif,
    google_storage_bucket_iam_member.state_plan,
  ]
}

output "environment" {
  description = "The one environment this project serves (ci.apply_environments): terraform/environments/<environment>, GitHub environment <environment>."
  value       = local.environment
}

output "github_variables" {
  description = "The GitHub Actions repository variables for this project's environment (Settings > Secrets and variables > Actions > Variables; docs/ci.md). Names end in the environment (_DEV, _PROD); none is secret."
  value = {
    "GCP_CI_APPLY_SERVICE_ACCOUNT_${local.variable_suffix}"   = google_service_account.ci_apply.email
    "GCP_CI_BUILD_SERVICE_ACCOUNT_${local.variable_suffix}"   = google_service_account.ci_build.email
    "GCP_CI_PLAN_SERVICE_ACCOUNT_${local.variable_suffix}"    = google_service_account.ci_plan.email
    "GCP_CI_PUBLISH_SERVICE_ACCOUNT_${local.variable_suffix}" = google_service_account.ci_publish.email
    "GCP_WORKLOAD_IDENTITY_PROVIDER_${local.variable_suffix}" = "${local.pool_name}/providers/${local.provider_id}"
  }

  depends_on = [
    google_iam_workload_identity_pool_provider.github,
    google_project_iam_member.ci_apply,
    google_project_iam_member.ci_build,
    google_project_iam_member.ci_plan,
    google_service_account_iam_member.ci_apply_wif,
    google_service_account_iam_member.ci_build_wif,
    google_service_account_iam_member.ci_plan_wif,
    google_service_account_iam_member.ci_publish_id_tokens,
    google_service_account_iam_member.ci_publish_wif,
  ]
}

output "project_id" {
  description = "The bootstrapped project's id."
  value       = var.project_id
}

output "project_number" {
  description = "The bootstrapped project's number."
  value       = var.project_number
}

output "state_bucket" {
  description = "Name of the Terraform state bucket (backend \"gcs\" bucket of the bootstrap and of every environment)."
  value       = google_storage_bucket.state.name

  depends_on = [
    google_storage_bucket_iam_member.state_apply,
    google_storage_bucket_iam_member.state_build,
    google_storage_bucket_iam_member.state_plan,
    google_storage_bucket_iam_member.state_publish,
  ]
}

output "workload_identity_pool" {
  description = "Full resource name of the Workload Identity pool: projects/<number>/locations/global/workloadIdentityPools/<pool>."
  value       = local.pool_name

  depends_on = [google_iam_workload_identity_pool.github]
}

output "workload_identity_provider" {
  description = "Full resource name of the GitHub provider, for google-github-actions/auth workload_identity_provider: projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>."
  value       = "${local.pool_name}/providers/${local.provider_id}"

  depends_on = [google_iam_workload_identity_pool_provider.github]
}
