mock_provider "google" {
  source = "../../mocks"
}

variables {
  settings = {
    environment              = "dev"
    prefix                   = "kfptest"
    project_id               = "acme-ml-test"
    project_number           = "123456789012"
    region                   = "europe-west1"
    ci_apply_service_account = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
    cluster = {
      location = "europe-west1-b"
    }
  }
}

run "no_domain_mode" {
  assert {
    condition     = output.platform.domain == "" && output.platform.static_ip_name == "" && output.platform.iap_client_id_secret == ""
    error_message = "without a domain there is no ingress, and its contract fields are empty"
  }
  assert {
    condition     = output.platform.artifact_bucket == "acme-ml-test-kfptest-artifacts"
    error_message = "the bucket is named from the prefix"
  }
  assert {
    condition     = output.platform.pipeline_root == "gs://acme-ml-test-kfptest-artifacts/pipeline-root"
    error_message = "the pipeline root is inside the artifact bucket"
  }
  assert {
    condition     = output.platform.kfp_namespace == "kubeflow"
    error_message = "KFP runs in namespace kubeflow"
  }
  assert {
    condition     = toset(keys(output.platform.service_accounts)) == toset(["cloudsql_proxy", "pipeline_runner", "ui"])
    error_message = "exactly the three Workload Identity service accounts"
  }
  assert {
    condition     = length(module.budget) == 0 && length(module.ingress) == 0
    error_message = "budget and ingress are off unless configured"
  }
}

run "with_domain_and_budget" {
  variables {
    settings = {
      environment              = "prod"
      prefix                   = "kfptest"
      project_id               = "acme-ml-test"
      project_number           = "123456789012"
      region                   = "europe-west1"
      ci_apply_service_account = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      cluster                  = { location = "europe-west1" }
      ingress                  = { domain = "kfp.example.com", iap_members = ["group:ml@example.com"] }
      budget                   = { amount = 500, billing_account_id = "012345-6789AB-CDEF01" }
    }
  }
  assert {
    condition     = output.platform.domain == "kfp.example.com" && output.platform.static_ip_name == "kfptest-kfp-ui"
    error_message = "a domain brings the static IP the Ingress names"
  }
  assert {
    condition     = output.platform.iap_client_id_secret != "" && output.platform.iap_client_secret_secret != ""
    error_message = "a domain brings the IAP OAuth client secrets"
  }
  assert {
    condition     = length(module.budget) == 1
    error_message = "a budget is created when configured"
  }
}

run "rejects_an_unknown_environment" {
  command = plan
  variables {
    settings = {
      environment              = "qa"
      prefix                   = "kfptest"
      project_id               = "acme-ml-test"
      project_number           = "123456789012"
      region                   = "europe-west1"
      ci_apply_service_account = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      cluster                  = { location = "europe-west1-b" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_a_project_id_as_project_number" {
  command = plan
  variables {
    settings = {
      environment              = "dev"
      prefix                   = "kfptest"
      project_id               = "acme-ml-test"
      project_number           = "acme-ml-test"
      region                   = "europe-west1"
      ci_apply_service_account = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      cluster                  = { location = "europe-west1-b" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_free_tier_on_a_regional_cluster" {
  command = plan
  variables {
    settings = {
      environment              = "dev"
      prefix                   = "kfptest"
      project_id               = "acme-ml-test"
      project_number           = "123456789012"
      region                   = "europe-west1"
      ci_apply_service_account = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      cluster                  = { location = "europe-west1", gke_free_tier = true }
    }
  }
  expect_failures = [var.settings]
}
