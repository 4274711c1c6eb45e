# Offline: google is mocked (tf-offline); plan-only runs (the state bucket has
# prevent_destroy). The service accounts' computed attributes are pinned so members and
# bindings are known at plan time.
mock_provider "google" {}

override_resource {
  target          = google_service_account.ci_plan
  override_during = plan
  values = {
    email  = "kfp-ci-plan@demo-project.iam.gserviceaccount.com"
    member = "serviceAccount:kfp-ci-plan@demo-project.iam.gserviceaccount.com"
    name   = "projects/demo-project/serviceAccounts/kfp-ci-plan@demo-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.ci_build
  override_during = plan
  values = {
    email  = "kfp-ci-build@demo-project.iam.gserviceaccount.com"
    member = "serviceAccount:kfp-ci-build@demo-project.iam.gserviceaccount.com"
    name   = "projects/demo-project/serviceAccounts/kfp-ci-build@demo-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.ci_apply
  override_during = plan
  values = {
    email  = "kfp-ci-apply@demo-project.iam.gserviceaccount.com"
    member = "serviceAccount:kfp-ci-apply@demo-project.iam.gserviceaccount.com"
    name   = "projects/demo-project/serviceAccounts/kfp-ci-apply@demo-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.ci_publish
  override_during = plan
  values = {
    email  = "kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    member = "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    name   = "projects/demo-project/serviceAccounts/kfp-ci-publish@demo-project.iam.gserviceaccount.com"
  }
}

variables {
  prefix               = "kfp"
  project_id           = "demo-project"
  project_number       = "123456789012"
  github_repository    = "example-org/kfp-platform"
  github_repository_id = "123456789"
  state_bucket = {
    location = "EU"
  }
  ci = {
    apply_environments = ["dev"]
  }
}

run "workload_identity_is_pinned" {
  command = plan

  assert {
    condition     = google_iam_workload_identity_pool_provider.github.oidc[0].issuer_uri == "https://token.actions.githubusercontent.com"
    error_message = "the provider must trust GitHub's issuer only"
  }

  # Exactly the repository id and the bound subjects: nothing broader (no owner-wide or
  # name-based condition, no wildcard).
  assert {
    condition     = google_iam_workload_identity_pool_provider.github.attribute_condition == "assertion.repository_id == '123456789' && (assertion.sub == 'repo:example-org/kfp-platform:environment:dev' || assertion.sub == 'repo:example-org/kfp-platform:pull_request' || assertion.sub == 'repo:example-org/kfp-platform:ref:refs/heads/main')"
    error_message = "attribute_condition is ${google_iam_workload_identity_pool_provider.github.attribute_condition}"
  }

  assert {
    condition     = !strcontains(google_iam_workload_identity_pool_provider.github.attribute_condition, "*") && !strcontains(google_iam_workload_identity_pool_provider.github.attribute_condition, "startsWith")
    error_message = "attribute_condition must not use wildcards or prefixes"
  }

  assert {
    condition = google_iam_workload_identity_pool_provider.github.attribute_mapping == tomap({
      "google.subject"                = "assertion.sub"
      "attribute.environment"         = "assertion.environment"
      "attribute.event_name"          = "assertion.event_name"
      "attribute.ref"                 = "assertion.ref"
      "attribute.repository"          = "assertion.repository"
      "attribute.repository_id"       = "assertion.repository_id"
      "attribute.repository_owner_id" = "assertion.repository_owner_id"
    })
    error_message = "attribute_mapping must map the subject and the repository, owner, environment, ref and event claims"
  }

  assert {
    condition     = google_iam_workload_identity_pool.github.workload_identity_pool_id == "kfp-github" && google_iam_workload_identity_pool_provider.github.workload_identity_pool_provider_id == "github"
    error_message = "pool and provider ids must come from the prefix"
  }

  assert {
    condition     = output.workload_identity_provider == "projects/123456789012/locations/global/workloadIdentityPools/kfp-github/providers/github"
    error_message = "workload_identity_provider is ${output.workload_identity_provider}"
  }
}

run "apply_identity_only_from_environments" {
  command = plan

  assert {
    condition = [for b in google_service_account_iam_member.ci_apply_wif : b.member] == [
      "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/kfp-github/subject/repo:example-org/kfp-platform:environment:dev",
    ]
    error_message = "the apply service account must be bound to exactly this project's environment subject"
  }

  assert {
    condition = alltrue([
      for b in google_service_account_iam_member.ci_apply_wif :
      b.role == "roles/iam.workloadIdentityUser" && b.service_account_id == "projects/demo-project/serviceAccounts/kfp-ci-apply@demo-project.iam.gserviceaccount.com"
    ])
    error_message = "the apply bindings must be workloadIdentityUser on the apply service account"
  }

  # By default: pull requests, and main (the deploy workflow's plan before approval, drift).
  assert {
    condition = [for b in google_service_account_iam_member.ci_plan_wif : b.member] == [
      "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/kfp-github/subject/repo:example-org/kfp-platform:pull_request",
      "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/kfp-github/subject/repo:example-org/kfp-platform:ref:refs/heads/main",
    ]
    error_message = "the plan service account must be bound to the pull_request and main subjects only"
  }

  assert {
    condition = alltrue([
      for b in concat(values(google_service_account_iam_member.ci_plan_wif), values(google_service_account_iam_member.ci_apply_wif), values(google_service_account_iam_member.ci_publish_wif)) :
      startswith(b.member, "principal://") && !strcontains(b.member, "principalSet")
    ])
    error_message = "CI bindings must name single principals, never principal sets"
  }

  assert {
    condition     = google_service_account.ci_plan.account_id == "kfp-ci-plan" && google_service_account.ci_apply.account_id == "kfp-ci-apply" && google_service_account.ci_publish.account_id == "kfp-ci-publish"
    error_message = "the CI service accounts must be <prefix>-ci-plan, <prefix>-ci-apply and <prefix>-ci-publish"
  }
}

# The publisher runs pipeline code: the same environment's jobs may use it (one approval for
# the whole deploy), and it holds nothing but IAP ID tokens for itself and reading the state.
run "publish_identity_reaches_kfp_and_nothing_else" {
  command = plan

  variables {
    billing_account_id = "012345-6789AB-CDEF01"
  }

  assert {
    condition = [for b in google_service_account_iam_member.ci_publish_wif : b.member] == [
      "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/kfp-github/subject/repo:example-org/kfp-platform:environment:dev",
      ] && alltrue([
        for b in google_service_account_iam_member.ci_publish_wif :
        b.role == "roles/iam.workloadIdentityUser" && b.service_account_id == "projects/demo-project/serviceAccounts/kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    ])
    error_message = "the publish service account must be bound to exactly this project's environment subject"
  }

  # generateIdToken for itself: kfp-gcp mints and refreshes the IAP token from the job's
  # federated credentials, which act as this account.
  assert {
    condition = (
      google_service_account_iam_member.ci_publish_id_tokens.role == "roles/iam.serviceAccountOpenIdTokenCreator" &&
      google_service_account_iam_member.ci_publish_id_tokens.member == "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com" &&
      google_service_account_iam_member.ci_publish_id_tokens.service_account_id == "projects/demo-project/serviceAccounts/kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    )
    error_message = "the publish service account may mint ID tokens for itself, and only for itself"
  }

  assert {
    condition     = google_storage_bucket_iam_member.state_publish.role == "roles/storage.objectViewer" && google_storage_bucket_iam_member.state_publish.member == "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    error_message = "the publish identity reads the state (the outputs contract) and cannot write it"
  }

  # Nothing else in the bootstrap names it: no project role, no billing role, no binding on
  # another account.
  assert {
    condition = alltrue([
      for m in concat(
        [for b in google_project_iam_member.ci_plan : b.member],
        [for b in google_project_iam_member.ci_apply : b.member],
        [google_project_iam_member.ci_apply_iam_admin.member],
        [for b in google_billing_account_iam_member.ci_plan : b.member],
        [for b in google_billing_account_iam_member.ci_apply : b.member],
        [for b in google_service_account_iam_member.ci_plan_wif : b.member],
        [for b in google_service_account_iam_member.ci_apply_wif : b.member],
      ) : !strcontains(m, "ci-publish")
    ])
    error_message = "the publish identity must hold no project, billing or other account role"
  }

  assert {
    condition     = output.ci_publish_service_account_email == "kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    error_message = "ci_publish_service_account_email is ${output.ci_publish_service_account_email}"
  }
}

run "plan_identity_is_read_only" {
  command = plan

  variables {
    billing_account_id = "012345-6789AB-CDEF01"
  }

  assert {
    condition = alltrue([
      for r in concat(
        [for b in google_project_iam_member.ci_plan : b.role],
        [for b in google_billing_account_iam_member.ci_plan : b.role],
        [google_storage_bucket_iam_member.state_plan.role],
      ) :
      !can(regex("(?i)(admin|editor|owner|writer|creator|user|developer)$", r)) && !contains([
        "roles/owner", "roles/editor", "roles/viewer",
        "roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/iam.workloadIdentityUser",
        "roles/storage.objectAdmin", "roles/storage.objectCreator", "roles/storage.objectUser",
        "roles/secretmanager.secretAccessor", "roles/billing.costsManager",
      ], r)
    ])
    error_message = "the plan identity must hold no role that writes, impersonates or reads secret payloads"
  }

  # Reading google_service_networking_connection needs servicenetworking.services.get, which
  # roles/compute.networkViewer contains (Google's IAM reference, "Service Networking roles
  # and permissions": docs.cloud.google.com/iam/docs/roles-permissions/servicenetworking).
  assert {
    condition     = contains([for b in google_project_iam_member.ci_plan : b.role], "roles/compute.networkViewer")
    error_message = "the plan identity reads the private services access connection through roles/compute.networkViewer"
  }

  assert {
    condition     = google_storage_bucket_iam_member.state_plan.role == "roles/storage.objectViewer" && google_storage_bucket_iam_member.state_plan.member == "serviceAccount:kfp-ci-plan@demo-project.iam.gserviceaccount.com"
    error_message = "the plan identity must read the state bucket"
  }

  assert {
    condition     = google_billing_account_iam_member.ci_plan[0].role == "roles/billing.viewer" && google_billing_account_iam_member.ci_apply[0].role == "roles/billing.costsManager"
    error_message = "budget access on the billing account: viewer for plan, costsManager for apply"
  }
}

run "no_basic_roles_anywhere" {
  command = plan

  variables {
    billing_account_id = "012345-6789AB-CDEF01"
  }

  assert {
    condition = length(setintersection(toset(concat(
      [for b in google_project_iam_member.ci_plan : b.role],
      [for b in google_project_iam_member.ci_apply : b.role],
      [google_project_iam_member.ci_apply_iam_admin.role],
      [for b in google_billing_account_iam_member.ci_plan : b.role],
      [for b in google_billing_account_iam_member.ci_apply : b.role],
      [google_storage_bucket_iam_member.state_plan.role, google_storage_bucket_iam_member.state_apply.role, google_storage_bucket_iam_member.state_publish.role],
      [for b in google_service_account_iam_member.ci_plan_wif : b.role],
      [for b in google_service_account_iam_member.ci_apply_wif : b.role],
      [for b in google_service_account_iam_member.ci_publish_wif : b.role],
      [google_service_account_iam_member.ci_publish_id_tokens.role],
      tolist(local.grantable_roles),
    )), ["roles/owner", "roles/editor", "roles/viewer"])) == 0
    error_message = "no basic role may be granted or grantable"
  }
}

run "apply_identity_roles" {
  command = plan

  assert {
    condition = toset([for b in google_project_iam_member.ci_apply : b.role]) == toset([
      "roles/artifactregistry.admin",
      "roles/cloudsql.admin",
      "roles/compute.networkAdmin",
      "roles/compute.securityAdmin",
      "roles/container.admin",
      "roles/dns.admin",
      "roles/iam.serviceAccountAdmin",
      "roles/monitoring.notificationChannelEditor",
      "roles/secretmanager.admin",
      "roles/servicenetworking.networksAdmin",
      "roles/serviceusage.serviceUsageConsumer",
      "roles/storage.admin",
    ])
    error_message = "the apply identity's unconditional project roles changed: review them"
  }

  assert {
    condition     = !contains([for b in google_project_iam_member.ci_apply : b.role], "roles/resourcemanager.projectIamAdmin")
    error_message = "projectIamAdmin must only be granted with the grant-limiting condition"
  }

  assert {
    condition = (
      google_project_iam_member.ci_apply_iam_admin.role == "roles/resourcemanager.projectIamAdmin" &&
      length(google_project_iam_member.ci_apply_iam_admin.condition) == 1 &&
      startswith(google_project_iam_member.ci_apply_iam_admin.condition[0].expression, "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([")
    )
    error_message = "projectIamAdmin must be limited by modifiedGrantsByRole"
  }

  assert {
    condition = alltrue([
      for r in ["roles/iap.httpsResourceAccessor", "roles/logging.logWriter", "roles/cloudsql.client"] :
      strcontains(google_project_iam_member.ci_apply_iam_admin.condition[0].expression, "'${r}'")
    ])
    error_message = "the environments' own grants must be grantable"
  }

  assert {
    condition = alltrue([
      for r in ["roles/owner", "roles/editor", "roles/resourcemanager.projectIamAdmin", "roles/iam.", "roles/viewer'"] :
      !strcontains(google_project_iam_member.ci_apply_iam_admin.condition[0].expression, r)
    ])
    error_message = "the apply identity must not be able to grant basic, IAM or IAM-admin roles"
  }

  assert {
    condition     = google_storage_bucket_iam_member.state_apply.role == "roles/storage.objectAdmin" && google_storage_bucket_iam_member.state_apply.member == "serviceAccount:kfp-ci-apply@demo-project.iam.gserviceaccount.com"
    error_message = "the apply identity must write the state bucket"
  }

  assert {
    condition     = length(google_billing_account_iam_member.ci_apply) == 0 && length(google_billing_account_iam_member.ci_plan) == 0
    error_message = "no billing account IAM without billing_account_id"
  }
}

run "grantable_roles_are_chunked" {
  command = plan

  variables {
    ci = {
      apply_environments    = ["dev"]
      extra_grantable_roles = ["roles/aiplatform.user", "roles/bigquery.dataViewer"]
    }
  }

  assert {
    condition     = length(split(" || ", google_project_iam_member.ci_apply_iam_admin.condition[0].expression)) == 2
    error_message = "12 grantable roles must make two hasOnly() lists of at most 10"
  }

  assert {
    condition     = strcontains(google_project_iam_member.ci_apply_iam_admin.condition[0].expression, "'roles/aiplatform.user'")
    error_message = "extra grantable roles must be in the condition"
  }
}

run "state_bucket_is_safe" {
  command = plan

  assert {
    condition     = google_storage_bucket.state.name == "kfp-demo-project-tfstate" && output.state_bucket == "kfp-demo-project-tfstate"
    error_message = "the state bucket must default to <prefix>-<project_id>-tfstate"
  }

  assert {
    condition     = google_storage_bucket.state.versioning[0].enabled
    error_message = "state must be versioned"
  }

  assert {
    condition     = google_storage_bucket.state.uniform_bucket_level_access && google_storage_bucket.state.public_access_prevention == "enforced"
    error_message = "state must have uniform access and enforced public access prevention"
  }

  assert {
    condition     = google_storage_bucket.state.force_destroy == false
    error_message = "Terraform must never empty the state bucket"
  }

  assert {
    condition     = google_storage_bucket.state.soft_delete_policy[0].retention_duration_seconds == 30 * 86400
    error_message = "deleted state must stay restorable for 30 days by default"
  }

  assert {
    condition = anytrue([
      for r in google_storage_bucket.state.lifecycle_rule :
      one(r.action).type == "Delete" && one(r.condition).num_newer_versions == 10 && one(r.condition).with_state == "ARCHIVED"
    ])
    error_message = "only noncurrent versions beyond the newest 10 may be deleted"
  }

  assert {
    condition     = length(google_storage_bucket.state.lifecycle_rule) == 1
    error_message = "no other lifecycle rule may delete state"
  }
}

run "services_enabled_and_kept" {
  command = plan

  variables {
    extra_services = ["aiplatform.googleapis.com"]
  }

  assert {
    condition = length(setsubtract([
      "compute.googleapis.com", "container.googleapis.com", "sqladmin.googleapis.com", "servicenetworking.googleapis.com",
      "secretmanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com",
      "cloudresourcemanager.googleapis.com", "iap.googleapis.com", "dns.googleapis.com", "billingbudgets.googleapis.com",
      "monitoring.googleapis.com", "logging.googleapis.com", "artifactregistry.googleapis.com", "storage.googleapis.com",
      "aiplatform.googleapis.com",
    ], keys(google_project_service.services))) == 0
    error_message = "a platform API is not enabled"
  }

  assert {
    condition     = alltrue([for s in google_project_service.services : s.disable_on_destroy == false])
    error_message = "APIs must never be disabled on destroy"
  }
}

run "owner_id_pinned_when_given" {
  command = plan

  variables {
    github_owner_id = "9919"
    ci = {
      apply_environments = ["prod"]
      plan_subjects      = ["pull_request", "ref:refs/heads/main"]
    }
  }

  assert {
    condition     = google_iam_workload_identity_pool_provider.github.attribute_condition == "assertion.repository_id == '123456789' && assertion.repository_owner_id == '9919' && (assertion.sub == 'repo:example-org/kfp-platform:environment:prod' || assertion.sub == 'repo:example-org/kfp-platform:pull_request' || assertion.sub == 'repo:example-org/kfp-platform:ref:refs/heads/main')"
    error_message = "attribute_condition is ${google_iam_workload_identity_pool_provider.github.attribute_condition}"
  }

  assert {
    condition     = keys(output.ci_apply_principals) == ["prod"] && length(google_service_account_iam_member.ci_plan_wif) == 2
    error_message = "bindings must follow ci.apply_environments and ci.plan_subjects"
  }
}

run "rejects_non_numeric_repository_id" {
  command = plan

  variables {
    github_repository_id = "example-org/kfp-platform"
  }

  expect_failures = [var.github_repository_id]
}

run "rejects_empty_repository_id" {
  command = plan

  variables {
    github_repository_id = ""
  }

  expect_failures = [var.github_repository_id]
}

run "rejects_repository_url" {
  command = plan

  variables {
    github_repository = "https://github.com/example-org/kfp-platform"
  }

  expect_failures = [var.github_repository]
}

run "rejects_repository_without_owner" {
  command = plan

  variables {
    github_repository = "kfp-platform"
  }

  expect_failures = [var.github_repository]
}

run "rejects_wildcard_plan_subject" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], plan_subjects = ["ref:refs/heads/main", "ref:refs/heads/*"] }
  }

  expect_failures = [var.ci]
}

# The deploy workflow plans main before the approval, and drift plans main.
run "rejects_plan_subjects_without_main" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], plan_subjects = ["pull_request"] }
  }

  expect_failures = [var.ci]
}

run "rejects_write_role_for_plan" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], extra_plan_roles = ["roles/storage.objectAdmin"] }
  }

  expect_failures = [var.ci]
}

run "rejects_basic_role" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], extra_apply_roles = ["roles/editor"] }
  }

  expect_failures = [var.ci]
}

run "rejects_escalating_grantable_role" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], extra_grantable_roles = ["roles/iam.serviceAccountTokenCreator"] }
  }

  expect_failures = [var.ci]
}

run "rejects_project_id_as_number" {
  command = plan

  variables {
    project_number = "demo-project"
  }

  expect_failures = [var.project_number]
}

run "rejects_bad_billing_account_id" {
  command = plan

  variables {
    billing_account_id = "0123-4567"
  }

  expect_failures = [var.billing_account_id]
}

run "rejects_short_soft_delete" {
  command = plan

  variables {
    state_bucket = { location = "EU", soft_delete_days = 0 }
  }

  expect_failures = [var.state_bucket]
}

run "rejects_project_wide_service_account_user" {
  command = plan

  variables {
    ci = { apply_environments = ["dev"], extra_apply_roles = ["roles/iam.serviceAccountUser"] }
  }

  expect_failures = [var.ci]
}

# --- one project, one environment: no credential path from dev to prod ---

run "rejects_two_apply_environments" {
  command = plan

  variables {
    ci = { apply_environments = ["dev", "prod"] }
  }

  expect_failures = [var.ci]
}

run "rejects_no_apply_environment" {
  command = plan

  variables {
    ci = { apply_environments = [] }
  }

  expect_failures = [var.ci]
}

run "rejects_an_environment_as_plan_subject" {
  command = plan

  variables {
    ci = { apply_environments = ["prod"], plan_subjects = ["pull_request", "ref:refs/heads/main", "environment:dev"] }
  }

  expect_failures = [var.ci]
}

run "rejects_environment_not_named_like_its_folder" {
  command = plan

  variables {
    ci = { apply_environments = ["Production"] }
  }

  expect_failures = [var.ci]
}

# The committed prod bootstrap (prod.tfvars.json, as `kfp-gcp infra bootstrap --env prod`
# passes it): no token of a job in the dev environment may pass its provider or act as
# either of its service accounts.
run "prod_bootstrap_admits_no_dev_job" {
  command = plan

  variables {
    project_id           = jsondecode(file("prod.tfvars.json")).project_id
    project_number       = jsondecode(file("prod.tfvars.json")).project_number
    prefix               = jsondecode(file("prod.tfvars.json")).prefix
    github_repository    = jsondecode(file("prod.tfvars.json")).github_repository
    github_repository_id = jsondecode(file("prod.tfvars.json")).github_repository_id
    state_bucket         = jsondecode(file("prod.tfvars.json")).state_bucket
    ci                   = jsondecode(file("prod.tfvars.json")).ci
    labels               = jsondecode(file("prod.tfvars.json")).labels
  }

  assert {
    condition     = !strcontains(google_iam_workload_identity_pool_provider.github.attribute_condition, "environment:dev")
    error_message = "the prod provider admits environment:dev: ${google_iam_workload_identity_pool_provider.github.attribute_condition}"
  }

  assert {
    condition     = strcontains(google_iam_workload_identity_pool_provider.github.attribute_condition, "assertion.sub == 'repo:example-org/kfp-platform:environment:prod'")
    error_message = "the prod provider must admit the prod environment's jobs"
  }

  assert {
    condition = alltrue([
      for b in concat(values(google_service_account_iam_member.ci_apply_wif), values(google_service_account_iam_member.ci_plan_wif), values(google_service_account_iam_member.ci_publish_wif)) :
      !strcontains(b.member, "environment:dev")
    ])
    error_message = "a prod service account is bound to environment:dev"
  }

  assert {
    condition     = keys(output.ci_apply_principals) == ["prod"] && output.environment == "prod"
    error_message = "the prod bootstrap must serve exactly the prod environment"
  }

  assert {
    condition     = alltrue([for k in keys(output.github_variables) : endswith(k, "_PROD")])
    error_message = "the prod bootstrap's GitHub variables must end in _PROD: ${join(", ", keys(output.github_variables))}"
  }
}

run "dev_bootstrap_admits_no_prod_job" {
  command = plan

  variables {
    project_id           = jsondecode(file("dev.tfvars.json")).project_id
    project_number       = jsondecode(file("dev.tfvars.json")).project_number
    prefix               = jsondecode(file("dev.tfvars.json")).prefix
    github_repository    = jsondecode(file("dev.tfvars.json")).github_repository
    github_repository_id = jsondecode(file("dev.tfvars.json")).github_repository_id
    state_bucket         = jsondecode(file("dev.tfvars.json")).state_bucket
    ci                   = jsondecode(file("dev.tfvars.json")).ci
    labels               = jsondecode(file("dev.tfvars.json")).labels
  }

  assert {
    condition     = !strcontains(google_iam_workload_identity_pool_provider.github.attribute_condition, "environment:prod")
    error_message = "the dev provider admits environment:prod: ${google_iam_workload_identity_pool_provider.github.attribute_condition}"
  }

  assert {
    condition     = keys(output.ci_apply_principals) == ["dev"] && output.environment == "dev"
    error_message = "the dev bootstrap must serve exactly the dev environment"
  }
}

# The names the workflows read (tests/test_workflows.py checks them against the workflows).
run "github_variables_name_the_environment" {
  command = plan

  assert {
    condition = output.github_variables == {
      GCP_CI_APPLY_SERVICE_ACCOUNT_DEV   = "kfp-ci-apply@demo-project.iam.gserviceaccount.com"
      GCP_CI_BUILD_SERVICE_ACCOUNT_DEV   = "kfp-ci-build@demo-project.iam.gserviceaccount.com"
      GCP_CI_PLAN_SERVICE_ACCOUNT_DEV    = "kfp-ci-plan@demo-project.iam.gserviceaccount.com"
      GCP_CI_PUBLISH_SERVICE_ACCOUNT_DEV = "kfp-ci-publish@demo-project.iam.gserviceaccount.com"
      GCP_WORKLOAD_IDENTITY_PROVIDER_DEV = "projects/123456789012/locations/global/workloadIdentityPools/kfp-github/providers/github"
    }
    error_message = "github_variables are ${jsonencode(output.github_variables)}"
  }
}

# --- the apply identity cannot reach Editor ---

run "default_service_accounts_are_deprivileged" {
  command = plan

  assert {
    condition = (
      google_project_default_service_accounts.deprivilege.project == "demo-project" &&
      google_project_default_service_accounts.deprivilege.action == "DEPRIVILEGE" &&
      google_project_default_service_accounts.deprivilege.restore_policy == "NONE"
    )
    error_message = "the default service accounts must lose their project roles (Editor), for good"
  }

  assert {
    condition = length(setintersection(
      toset([for b in google_project_iam_member.ci_apply : b.role]),
      toset(["roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/iam.workloadIdentityUser"]),
    )) == 0
    error_message = "the apply identity must not act as every service account of the project"
  }
}

# The build identity: its own token for the image step of the deploy chain, from the same
# protected environment as the apply identity, and none of the apply identity's powers.
run "build_identity_pushes_images_and_nothing_else" {
  command = plan

  assert {
    condition     = google_service_account.ci_build.account_id == "kfp-ci-build"
    error_message = "the build identity is <prefix>-ci-build"
  }
  assert {
    condition     = toset([for b in google_service_account_iam_member.ci_build_wif : b.member]) == toset(values(local.apply_principals)) && alltrue([for b in google_service_account_iam_member.ci_build_wif : b.role == "roles/iam.workloadIdentityUser"])
    error_message = "only jobs of the protected GitHub environment (the apply identity's subjects) may act as the build identity"
  }
  assert {
    condition     = toset([for b in google_project_iam_member.ci_build : b.role]) == toset(["roles/cloudbuild.builds.editor"])
    error_message = "on the project the build identity may only submit Cloud Builds; pushing is granted on the images repository by the environment"
  }
  assert {
    condition     = length(setintersection(toset([for b in google_project_iam_member.ci_build : b.role]), toset([for b in google_project_iam_member.ci_apply : b.role]))) == 0
    error_message = "the build identity shares no project role with the apply identity"
  }
  assert {
    condition     = google_service_account_iam_member.ci_build_runs_builds_as_itself.member == "serviceAccount:kfp-ci-build@demo-project.iam.gserviceaccount.com" && google_service_account_iam_member.ci_build_runs_builds_as_itself.role == "roles/iam.serviceAccountUser"
    error_message = "Cloud Builds run as the build identity itself, so it may act as itself and as no other account"
  }
  assert {
    condition     = google_storage_bucket_iam_member.state_build.role == "roles/storage.objectViewer" && google_storage_bucket_iam_member.state_build.member == "serviceAccount:kfp-ci-build@demo-project.iam.gserviceaccount.com"
    error_message = "the build identity reads the state (the outputs contract: the registry's address), nothing more"
  }
  assert {
    condition     = contains(keys(google_project_service.services), "cloudbuild.googleapis.com")
    error_message = "the Cloud Build API is enabled for --builder cloudbuild"
  }
  assert {
    condition     = output.ci_build_service_account_email == "kfp-ci-build@demo-project.iam.gserviceaccount.com"
    error_message = "the bootstrap outputs the build identity for the environments' settings"
  }
}
