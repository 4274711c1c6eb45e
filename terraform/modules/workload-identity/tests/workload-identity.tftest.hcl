# override_during = plan: the mocked email and name are known at plan time, so plan runs
# can check that each binding names the right service account. Every computed attribute
# gets a fixed value: values invented at plan would differ at apply.
mock_provider "google" {
  mock_resource "google_service_account" {
    override_during = plan
    defaults = {
      create_ignore_already_exists = false
      disabled                     = false
      email                        = "mock@demo-project.iam.gserviceaccount.com"
      id                           = "projects/demo-project/serviceAccounts/mock@demo-project.iam.gserviceaccount.com"
      member                       = "serviceAccount:mock@demo-project.iam.gserviceaccount.com"
      name                         = "projects/demo-project/serviceAccounts/mock@demo-project.iam.gserviceaccount.com"
      unique_id                    = "100000000000000000001"
    }
  }
}

variables {
  prefix     = "demo"
  project_id = "demo-project"
  bucket     = "demo-kfp-artifacts"
}

run "exactly_three_bindings_with_least_privilege" {
  command = plan

  # Distinct identities, so a binding to the wrong service account would show.
  override_resource {
    target          = google_service_account.service_account["ui"]
    override_during = plan
    values = {
      email = "demo-kfp-ui@demo-project.iam.gserviceaccount.com"
      name  = "projects/demo-project/serviceAccounts/demo-kfp-ui@demo-project.iam.gserviceaccount.com"
    }
  }
  override_resource {
    target          = google_service_account.service_account["pipeline_runner"]
    override_during = plan
    values = {
      email = "demo-kfp-runner@demo-project.iam.gserviceaccount.com"
      name  = "projects/demo-project/serviceAccounts/demo-kfp-runner@demo-project.iam.gserviceaccount.com"
    }
  }

  assert {
    condition = { for k, sa in google_service_account.service_account : k => sa.account_id } == {
      cloudsql_proxy  = "demo-kfp-sqlproxy"
      pipeline_runner = "demo-kfp-runner"
      ui              = "demo-kfp-ui"
    }
    error_message = "service accounts must be <prefix>-kfp-runner, -kfp-ui and -kfp-sqlproxy, and no others"
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.workload_identity : m.member]) == toset([
      "serviceAccount:demo-project.svc.id.goog[kubeflow/pipeline-runner]",
      "serviceAccount:demo-project.svc.id.goog[kubeflow/ml-pipeline-ui]",
      "serviceAccount:demo-project.svc.id.goog[kubeflow/cloudsql-proxy]",
    ])
    error_message = "Workload Identity members must be exactly the three KFP KSAs in kubeflow"
  }
  assert {
    condition     = google_service_account_iam_member.workload_identity["ui"].member == "serviceAccount:demo-project.svc.id.goog[kubeflow/ml-pipeline-ui]"
    error_message = "the ui GSA must be bound to the ml-pipeline-ui KSA"
  }
  assert {
    condition     = alltrue([for m in google_service_account_iam_member.workload_identity : m.role == "roles/iam.workloadIdentityUser"])
    error_message = "the only role on the service accounts must be roles/iam.workloadIdentityUser"
  }
  assert {
    condition = alltrue([
      for k, m in google_service_account_iam_member.workload_identity :
      m.service_account_id == google_service_account.service_account[k].name
    ])
    error_message = "each KSA must be bound to its own GSA"
  }
  assert {
    condition = { for k, m in google_storage_bucket_iam_member.bucket : k => m.role } == {
      pipeline_runner = "roles/storage.objectUser"
      ui              = "roles/storage.objectViewer"
    }
    error_message = "bucket roles must be exactly objectUser for pipeline_runner and objectViewer for ui"
  }
  assert {
    condition     = alltrue([for m in google_storage_bucket_iam_member.bucket : m.bucket == "demo-kfp-artifacts"])
    error_message = "bucket roles must be granted on the artifact bucket only"
  }
  assert {
    condition = alltrue([
      for k, m in google_storage_bucket_iam_member.bucket :
      m.member == "serviceAccount:${google_service_account.service_account[k].email}"
    ])
    error_message = "bucket roles must go to the matching GSA"
  }
  assert {
    condition = (
      google_storage_bucket_iam_member.bucket["ui"].member == "serviceAccount:demo-kfp-ui@demo-project.iam.gserviceaccount.com" &&
      google_storage_bucket_iam_member.bucket["pipeline_runner"].member == "serviceAccount:demo-kfp-runner@demo-project.iam.gserviceaccount.com"
    )
    error_message = "objectViewer must go to the UI's GSA and objectUser to the runner's"
  }
  assert {
    condition = (
      google_project_iam_member.cloudsql_client.role == "roles/cloudsql.client" &&
      google_project_iam_member.cloudsql_client.project == "demo-project" &&
      google_project_iam_member.cloudsql_client.member == "serviceAccount:${google_service_account.service_account["cloudsql_proxy"].email}"
    )
    error_message = "only the Cloud SQL proxy GSA gets roles/cloudsql.client, at project level"
  }
  assert {
    condition = length(setintersection(
      toset(concat(
        [for m in google_service_account_iam_member.workload_identity : m.role],
        [for m in google_storage_bucket_iam_member.bucket : m.role],
        [google_project_iam_member.cloudsql_client.role],
      )),
      toset(["roles/owner", "roles/editor", "roles/viewer"]),
    )) == 0
    error_message = "no basic roles"
  }
}

# Static check: no basic role appears anywhere in the module's source.
run "no_basic_roles_in_source" {
  command = plan

  assert {
    condition = length(regexall("roles/(owner|editor|viewer)\\b", join("\n", [
      for f in fileset(path.module, "*.tf") : file("${path.module}/${f}")
    ]))) == 0
    error_message = "roles/owner, roles/editor and roles/viewer must not appear in the module"
  }
}

run "custom_namespace_and_ksa_with_longest_prefix" {
  command = plan

  variables {
    prefix                      = "abcdefghijkl"
    namespace                   = "kfp"
    kubernetes_service_accounts = { cloudsql_proxy = "db-proxy" }
  }

  assert {
    condition = alltrue([
      for sa in google_service_account.service_account :
      length(sa.account_id) <= 30 && can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", sa.account_id))
    ])
    error_message = "service account ids must stay valid (6-30 characters) with a 12-character prefix"
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.workload_identity : m.member]) == toset([
      "serviceAccount:demo-project.svc.id.goog[kfp/pipeline-runner]",
      "serviceAccount:demo-project.svc.id.goog[kfp/ml-pipeline-ui]",
      "serviceAccount:demo-project.svc.id.goog[kfp/db-proxy]",
    ])
    error_message = "namespace and KSA names must reach the Workload Identity members"
  }
  assert {
    condition     = output.kubernetes_service_accounts.cloudsql_proxy == "db-proxy" && output.namespace == "kfp"
    error_message = "KSA names and namespace must be output"
  }
}

run "apply_outputs_emails_by_role" {
  assert {
    condition     = toset(keys(output.emails)) == toset(["cloudsql_proxy", "pipeline_runner", "ui"])
    error_message = "emails must be keyed exactly cloudsql_proxy, pipeline_runner, ui (the outputs contract)"
  }
  assert {
    condition     = alltrue([for e in values(output.emails) : endswith(e, ".iam.gserviceaccount.com")])
    error_message = "emails must be service account emails"
  }
  assert {
    condition = output.kubernetes_service_accounts == {
      cloudsql_proxy  = "cloudsql-proxy"
      pipeline_runner = "pipeline-runner"
      ui              = "ml-pipeline-ui"
    }
    error_message = "default KSA names must be upstream's (pipeline-runner, ml-pipeline-ui) and cloudsql-proxy"
  }
}

run "rejects_bad_prefix" {
  command = plan
  variables {
    prefix = "demo-"
  }
  expect_failures = [var.prefix]
}

run "rejects_bad_namespace" {
  command = plan
  variables {
    namespace = "Kubeflow"
  }
  expect_failures = [var.namespace]
}

run "rejects_bad_ksa_name" {
  command = plan
  variables {
    kubernetes_service_accounts = { pipeline_runner = "Pipeline_Runner" }
  }
  expect_failures = [var.kubernetes_service_accounts]
}

run "rejects_bucket_url" {
  command = plan
  variables {
    bucket = "gs://demo-kfp-artifacts"
  }
  expect_failures = [var.bucket]
}

run "rejects_project_number" {
  command = plan
  variables {
    project_id = "123456789012"
  }
  expect_failures = [var.project_id]
}
