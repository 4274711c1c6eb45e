mock_provider "google" {
  source = "../../mocks"
}

variables {
  settings = {
    environment                = "dev"
    prefix                     = "kfptest"
    project_id                 = "acme-ml-test"
    project_number             = "123456789012"
    region                     = "europe-west1"
    ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
    ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
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
    condition     = toset(keys(output.platform.service_accounts)) == toset(["cloudsql_proxy", "inverse_proxy", "object_store", "pipeline_runner", "ui", "viewer"])
    error_message = "the contract names the four Workload Identity accounts, the inverse proxy's and the object store's"
  }
  assert {
    condition     = output.platform.access == "port-forward" && output.platform.service_accounts.inverse_proxy == ""
    error_message = "without a domain or an access setting, the UI is reached by port-forward and no proxy account exists"
  }
  assert {
    condition     = output.platform.control_plane_cidr == "172.16.0.0/28"
    error_message = "the contract carries the control plane CIDR (the cache webhook's NetworkPolicy admits it)"
  }
  assert {
    condition     = length(module.budget) == 0 && length(module.ingress) == 0
    error_message = "budget and ingress are off unless configured"
  }
}

run "with_domain_and_budget" {
  variables {
    settings = {
      environment                = "prod"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1" }
      ingress                    = { domain = "kfp.example.com", iap_members = ["group:ml@example.com"] }
      budget                     = { amount = 500, billing_account_id = "012345-6789AB-CDEF01" }
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
  assert {
    condition     = output.platform.access == "iap"
    error_message = "a domain defaults access to iap"
  }
}

run "inverse_proxy_access" {
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      access                     = "inverse-proxy"
      ingress                    = { inverse_proxy_members = ["group:ml@example.com"] }
    }
  }
  assert {
    condition     = output.platform.access == "inverse-proxy" && output.platform.domain == "" && length(module.ingress) == 0
    error_message = "the inverse proxy needs no domain, static IP or IAP"
  }
  assert {
    condition     = endswith(output.platform.service_accounts.inverse_proxy, ".iam.gserviceaccount.com")
    error_message = "the inverse proxy brings its agent's Google service account"
  }
  assert {
    condition     = module.workload_identity.kubernetes_service_accounts.inverse_proxy == "proxy-agent-runner"
    error_message = "the agent's KSA is proxy-agent-runner"
  }
}

run "contract_accepts_the_inverse_proxy_outputs" {
  command = plan
  module {
    source = "../../contract"
  }
  variables {
    platform = run.inverse_proxy_access.platform
  }
  assert {
    condition     = output.platform.access == "inverse-proxy"
    error_message = "the contract passes the inverse proxy outputs through"
  }
}

run "registry_by_default" {
  command = plan

  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      ci_build_service_account   = "kfp-ci-build@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      registry = {
        cleanup = { keep_recent = 4 }
        readers = { publisher = "serviceAccount:kfp-publish@acme-ml-test.iam.gserviceaccount.com" }
      }
    }
  }
  assert {
    condition     = length(module.registry) == 1 && output.platform.registry.images == "europe-west1-docker.pkg.dev/acme-ml-test/kfptest-images"
    error_message = "every environment gets a component images repository unless registry.enabled is false"
  }
  assert {
    condition     = module.registry[0].readers["ci-publish"] == "serviceAccount:kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
    error_message = "the publisher reads the images repository: deploy reads each image's digest before it publishes"
  }
  assert {
    condition     = output.platform.registry.builder == "kfp-ci-build@acme-ml-test.iam.gserviceaccount.com"
    error_message = "the contract names the build identity (Cloud Build runs as it)"
  }
  assert {
    condition     = keys(module.registry[0].repositories) == ["docker.io", "gcr.io", "ghcr.io", "images", "pypi", "quay.io"]
    error_message = "the registry module gets its default remotes when the settings name none"
  }
  assert {
    condition     = output.platform.registry.mirrors["ghcr.io"] == "europe-west1-docker.pkg.dev/acme-ml-test/kfptest-ghcr"
    error_message = "mirrors reach the contract, for the manifests"
  }
  assert {
    condition     = startswith(output.platform.registry.build_bucket, "gs://acme-ml-test-kfptest-builds")
    error_message = "the build bucket is named from the project and prefix (bucket names are global)"
  }
}

run "registry_off" {
  command = plan

  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      registry                   = { enabled = false }
    }
  }
  assert {
    condition     = length(module.registry) == 0
    error_message = "registry.enabled = false creates no repository"
  }
  assert {
    condition     = output.platform.registry.images == "" && output.platform.registry.build_bucket == "" && length(output.platform.registry.mirrors) == 0 && output.platform.registry.pypi == "" && output.platform.registry.builder == ""
    error_message = "without a registry every registry field of the contract is empty: components install their packages at run time, KFP pulls from the public registries"
  }
}

run "contract_accepts_no_registry" {
  command = plan
  module {
    source = "../../contract"
  }
  variables {
    platform = run.registry_off.platform
  }
  assert {
    condition     = output.platform.registry.images == ""
    error_message = "the contract allows an environment without a registry"
  }
}

run "rejects_a_build_identity_that_is_not_an_email" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      ci_build_service_account   = "kfp-ci-build"
      cluster                    = { location = "europe-west1-b" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_iap_without_a_domain" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      access                     = "iap"
    }
  }
  expect_failures = [var.settings]
}

run "rejects_inverse_proxy_with_a_domain" {
  command = plan
  variables {
    settings = {
      environment                = "prod"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1" }
      access                     = "inverse-proxy"
      ingress                    = { domain = "kfp.example.com" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_an_unknown_access_mode" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      access                     = "vpn"
    }
  }
  expect_failures = [var.settings]
}

run "rejects_an_unknown_environment" {
  command = plan
  variables {
    settings = {
      environment                = "qa"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_a_project_id_as_project_number" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "acme-ml-test"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_free_tier_on_a_regional_cluster" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1", gke_free_tier = true }
    }
  }
  expect_failures = [var.settings]
}

# Paused by the setting: every pool at 0 without autoscaler, the database stopped, every
# alert disabled, and the contract says so.
run "paused" {
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      paused                     = true
      cluster = {
        location = "europe-west1-b"
        node_pools = {
          system = { machine_type = "e2-standard-2", min_count = 1, max_count = 2, spot = true }
          gpu = {
            machine_type = "n1-standard-4", min_count = 0, max_count = 1, spot = true
            accelerator  = { type = "nvidia-tesla-t4", count = 1 }
          }
        }
      }
      monitoring = { emails = { platform = "ml-platform@example.com" } }
    }
  }
  assert {
    condition = alltrue([
      for name, size in output.pause.node_pools : size.node_count == 0 && !size.autoscaling
    ]) && length(output.pause.node_pools) == 2
    error_message = "paused: every node pool must be at node_count 0 without autoscaler"
  }
  assert {
    condition     = output.pause.activation_policy == "NEVER"
    error_message = "paused: the Cloud SQL instance must be stopped (activation_policy NEVER)"
  }
  assert {
    condition     = alltrue([for name, enabled in output.pause.alerts_enabled : !enabled])
    error_message = "paused: every alert policy must be disabled"
  }
  assert {
    condition     = output.platform.paused == true
    error_message = "the contract must say the environment is paused"
  }
  assert {
    condition     = length(module.monitoring.alert_policies) == 7
    error_message = "the GPU pool brings the GPU-idle alert besides the other six"
  }
}

run "running_by_default_with_monitoring" {
  assert {
    condition     = output.platform.paused == false
    error_message = "an environment without paused or a schedule runs"
  }
  assert {
    condition     = contains(keys(module.monitoring.alert_policies), "gpu-idle")
    error_message = "the gke module's default pools include a GPU pool, so the GPU-idle alert exists"
  }
}

run "the_schedule_pauses_through_the_plan_variable" {
  variables {
    schedule_pauses_now = true
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      schedule                   = { days = ["mon", "tue", "wed", "thu", "fri"], from = "06:00", to = "19:00" }
      cloudsql                   = { backup = { start_time = "12:00" } }
    }
  }
  assert {
    condition     = output.platform.paused == true
    error_message = "schedule_pauses_now pauses the environment like settings.paused"
  }
}

run "rejects_a_schedule_that_ends_before_it_starts" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      schedule                   = { days = ["mon"], from = "19:00", to = "06:00" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_a_schedule_with_an_unknown_day" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      schedule                   = { days = ["monday"], from = "06:00", to = "19:00" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_backups_outside_the_running_hours" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      # The default backup start, 02:00 UTC, is at night: the instance is stopped then.
      schedule = { days = ["mon", "tue", "wed", "thu", "fri"], from = "06:00", to = "19:00" }
    }
  }
  expect_failures = [var.settings]
}

run "rejects_a_backup_window_that_ends_after_the_running_hours" {
  command = plan
  variables {
    settings = {
      environment                = "dev"
      prefix                     = "kfptest"
      project_id                 = "acme-ml-test"
      project_number             = "123456789012"
      region                     = "europe-west1"
      ci_apply_service_account   = "kfp-ci-apply@acme-ml-test.iam.gserviceaccount.com"
      ci_publish_service_account = "kfp-ci-publish@acme-ml-test.iam.gserviceaccount.com"
      cluster                    = { location = "europe-west1-b" }
      schedule                   = { days = ["mon"], from = "06:00", to = "19:00" }
      cloudsql                   = { backup = { start_time = "16:00" } }
    }
  }
  expect_failures = [var.settings]
}
