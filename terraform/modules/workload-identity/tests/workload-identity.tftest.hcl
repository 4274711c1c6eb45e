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

run "exactly_four_bindings_with_least_privilege" {
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

  override_resource {
    target          = google_service_account.service_account["viewer"]
    override_during = plan
    values = {
      email = "demo-kfp-viewer@demo-project.iam.gserviceaccount.com"
      name  = "projects/demo-project/serviceAccounts/demo-kfp-viewer@demo-project.iam.gserviceaccount.com"
    }
  }
  override_resource {
    target          = google_service_account.object_store
    override_during = plan
    values = {
      email = "demo-kfp-objstore@demo-project.iam.gserviceaccount.com"
      name  = "projects/demo-project/serviceAccounts/demo-kfp-objstore@demo-project.iam.gserviceaccount.com"
    }
  }

  assert {
    condition = { for k, sa in google_service_account.service_account : k => sa.account_id } == {
      cloudsql_proxy  = "demo-kfp-sqlproxy"
      pipeline_runner = "demo-kfp-runner"
      ui              = "demo-kfp-ui"
      viewer          = "demo-kfp-viewer"
    }
    error_message = "Workload Identity service accounts must be <prefix>-kfp-runner, -kfp-ui, -kfp-viewer and -kfp-sqlproxy, and no others (no inverse proxy unless enabled)"
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.workload_identity : m.member]) == toset([
      "serviceAccount:demo-project.svc.id.goog[kubeflow/pipeline-runner]",
      "serviceAccount:demo-project.svc.id.goog[kubeflow/ml-pipeline-ui]",
      "serviceAccount:demo-project.svc.id.goog[kubeflow/kubeflow-pipelines-viewer]",
      "serviceAccount:demo-project.svc.id.goog[kubeflow/cloudsql-proxy]",
    ])
    error_message = "Workload Identity members must be exactly the four KFP KSAs in kubeflow"
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
      viewer          = "roles/storage.objectViewer"
    }
    error_message = "bucket roles must be exactly objectUser for pipeline_runner and objectViewer for ui and viewer"
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
    condition     = google_storage_bucket_iam_member.bucket["viewer"].member == "serviceAccount:demo-kfp-viewer@demo-project.iam.gserviceaccount.com"
    error_message = "the TensorBoard viewer's objectViewer must go to its own GSA"
  }
  assert {
    condition     = google_service_account.object_store.account_id == "demo-kfp-objstore"
    error_message = "the object store account must be <prefix>-kfp-objstore"
  }
  assert {
    condition = toset([for m in google_storage_bucket_iam_member.object_store : m.role]) == toset([
      "roles/storage.objectViewer", "roles/storage.legacyBucketReader",
    ])
    error_message = "the object store account must be read-only: objectViewer, plus legacyBucketReader for storage.buckets.get (KFP 2.14.4's bucket check)"
  }
  assert {
    condition = alltrue([
      for m in google_storage_bucket_iam_member.object_store :
      m.bucket == "demo-kfp-artifacts" && m.member == "serviceAccount:demo-kfp-objstore@demo-project.iam.gserviceaccount.com"
    ])
    error_message = "the object store roles must go to its own account, on the artifact bucket only"
  }
  assert {
    condition = !contains([
      for m in google_service_account_iam_member.workload_identity : m.service_account_id
    ], "projects/demo-project/serviceAccounts/demo-kfp-objstore@demo-project.iam.gserviceaccount.com")
    error_message = "no pod may act as the object store account: only its HMAC key uses it"
  }
  assert {
    condition     = length(google_service_account_iam_member.inverse_proxy_user) == 0
    error_message = "without the inverse proxy nobody gets Service Account User"
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
        [for m in google_storage_bucket_iam_member.object_store : m.role],
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
      for id in concat([for sa in google_service_account.service_account : sa.account_id], [google_service_account.object_store.account_id]) :
      length(id) <= 30 && can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", id))
    ])
    error_message = "service account ids must stay valid (6-30 characters) with a 12-character prefix"
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.workload_identity : m.member]) == toset([
      "serviceAccount:demo-project.svc.id.goog[kfp/pipeline-runner]",
      "serviceAccount:demo-project.svc.id.goog[kfp/ml-pipeline-ui]",
      "serviceAccount:demo-project.svc.id.goog[kfp/kubeflow-pipelines-viewer]",
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
    condition     = toset(keys(output.emails)) == toset(["cloudsql_proxy", "inverse_proxy", "object_store", "pipeline_runner", "ui", "viewer"])
    error_message = "emails must be keyed exactly like the outputs contract's service_accounts"
  }
  assert {
    condition     = output.emails.inverse_proxy == "" && alltrue([for k, e in output.emails : endswith(e, ".iam.gserviceaccount.com") if k != "inverse_proxy"])
    error_message = "emails must be service account emails, and inverse_proxy empty while the inverse proxy is off"
  }
  assert {
    condition = output.kubernetes_service_accounts == {
      cloudsql_proxy  = "cloudsql-proxy"
      inverse_proxy   = "proxy-agent-runner"
      pipeline_runner = "pipeline-runner"
      ui              = "ml-pipeline-ui"
      viewer          = "kubeflow-pipelines-viewer"
    }
    error_message = "default KSA names must be upstream's (pipeline-runner, ml-pipeline-ui, kubeflow-pipelines-viewer, proxy-agent-runner) and cloudsql-proxy"
  }
}

run "inverse_proxy_gets_its_own_identity_and_users" {
  command = plan

  variables {
    inverse_proxy = { enabled = true, members = ["group:ml@example.com", "user:ana@example.com"] }
  }
  override_resource {
    target          = google_service_account.service_account["inverse_proxy"]
    override_during = plan
    values = {
      email = "demo-kfp-invproxy@demo-project.iam.gserviceaccount.com"
      name  = "projects/demo-project/serviceAccounts/demo-kfp-invproxy@demo-project.iam.gserviceaccount.com"
    }
  }

  assert {
    condition     = google_service_account.service_account["inverse_proxy"].account_id == "demo-kfp-invproxy"
    error_message = "the agent's account must be <prefix>-kfp-invproxy"
  }
  assert {
    condition     = google_service_account_iam_member.workload_identity["inverse_proxy"].member == "serviceAccount:demo-project.svc.id.goog[kubeflow/proxy-agent-runner]"
    error_message = "the agent's KSA proxy-agent-runner must be bound to it"
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.inverse_proxy_user : m.member]) == toset(["group:ml@example.com", "user:ana@example.com"]) && alltrue([
      for m in google_service_account_iam_member.inverse_proxy_user :
      m.role == "roles/iam.serviceAccountUser" && m.service_account_id == "projects/demo-project/serviceAccounts/demo-kfp-invproxy@demo-project.iam.gserviceaccount.com"
    ])
    error_message = "exactly the members get Service Account User, on the agent's account only"
  }
  assert {
    condition     = !contains(keys(google_storage_bucket_iam_member.bucket), "inverse_proxy")
    error_message = "the agent gets no bucket role"
  }
}

run "rejects_inverse_proxy_members_when_off" {
  command = plan
  variables {
    inverse_proxy = { members = ["group:ml@example.com"] }
  }
  expect_failures = [var.inverse_proxy]
}

run "rejects_a_bare_email_as_member" {
  command = plan
  variables {
    inverse_proxy = { enabled = true, members = ["ana@example.com"] }
  }
  expect_failures = [var.inverse_proxy]
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
