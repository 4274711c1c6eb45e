# The dev environment as committed (terraform.tfvars.json), planned and applied against
# mocks, then its outputs passed through the contract module (terraform/contract).

mock_provider "google" {
  source = "../../mocks"
}

run "apply" {
  assert {
    condition     = module.platform.platform.environment == "dev"
    error_message = "dev outputs must say environment = dev"
  }
  assert {
    condition     = length(split("-", module.platform.platform.cluster_location)) == 3
    error_message = "dev's cluster must be zonal (cheaper: one free zonal cluster per billing account)"
  }
  assert {
    condition     = var.settings.cluster.gke_free_tier == true
    error_message = "dev's zonal cluster is the one the GKE free tier credits (kfp-gcp infra cost subtracts it)"
  }
  assert {
    condition     = var.settings.cloudsql.ha == false
    error_message = "dev's database must not pay for HA"
  }
  assert {
    condition     = var.settings.cluster.node_pools.gpu.min_count == 0 && var.settings.cluster.node_pools.gpu.accelerator.count >= 1
    error_message = "the GPU pool must scale to zero"
  }
  assert {
    condition     = var.settings.cluster.node_pools.cpu.spot == true
    error_message = "dev's CPU pool runs on Spot"
  }
  assert {
    condition     = module.platform.platform.domain == ""
    error_message = "dev runs in no-domain mode: no static IP, no IAP"
  }
  assert {
    condition     = module.platform.platform.access == "port-forward" && module.platform.platform.service_accounts.inverse_proxy == ""
    error_message = "dev's committed access mode is port-forward (set access to inverse-proxy to use Google's inverting proxy)"
  }
  assert {
    condition     = module.platform.platform.static_ip_name == "" && module.platform.platform.iap_client_id_secret == ""
    error_message = "no-domain mode leaves the ingress fields empty"
  }
  assert {
    condition     = module.platform.platform.registry.images == "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-images" && module.platform.platform.registry.builder == "kfp-ci-build@acme-ml-dev.iam.gserviceaccount.com"
    error_message = "dev has a component images repository, and the CI build identity from the bootstrap pushes to it"
  }
  assert {
    condition     = toset(keys(module.platform.platform.registry.mirrors)) == toset(["docker.io", "gcr.io", "ghcr.io", "quay.io"]) && module.platform.platform.registry.pypi != ""
    error_message = "dev pulls KFP's images (docker.io, gcr.io, ghcr.io, quay.io) and PyPI through remote repositories"
  }
  assert {
    condition     = var.settings.registry.cleanup.delete_after_days == 90
    error_message = "dev keeps image versions 90 days (settings registry.cleanup; modules/platform passes it to modules/registry)"
  }
}

run "contract" {
  command = plan
  module {
    source = "../../contract"
  }
  variables {
    platform = run.apply.platform
  }
  assert {
    condition     = output.platform.kfp_namespace == "kubeflow"
    error_message = "the contract module passes the outputs through"
  }
}

# dev as committed runs (the schedule is only evaluated by `kfp-gcp infra plan`); the
# idle-cost choices: a Spot system pool with a small boot disk, the shared-core database.
run "idle_cost_choices" {
  command = plan
  assert {
    condition = (
      var.settings.cluster.node_pools.system.spot == true &&
      var.settings.cluster.node_pools.system.machine_type == "e2-standard-2" &&
      var.settings.cluster.node_pools.system.disk_size_gb == 30
    )
    error_message = "dev's system pool: one Spot e2-standard-2 with a 30 GB boot disk (terraform/README.md, Cost)"
  }
  assert {
    condition     = var.settings.cloudsql.tier == "db-g1-small"
    error_message = "dev's database: db-g1-small (holds KFP's own 800Mi MySQL request; terraform/README.md, Cost)"
  }
  assert {
    condition     = var.settings.schedule.days == ["mon", "tue", "wed", "thu", "fri"]
    error_message = "dev runs on weekdays only and is paused at night and at weekends"
  }
}

# Paused, the way `kfp-gcp infra plan` passes the schedule: every pool at 0 without its
# autoscaler, the database stopped, every alert disabled, the contract saying so.
run "paused_by_the_schedule" {
  variables {
    schedule_pauses_now = true
  }
  assert {
    condition = alltrue([
      for name, size in module.platform.pause.node_pools : size.node_count == 0 && !size.autoscaling
    ]) && length(module.platform.pause.node_pools) == 3
    error_message = "paused: system, cpu and gpu pools must all be at node_count 0 without autoscaler"
  }
  assert {
    condition     = module.platform.pause.activation_policy == "NEVER"
    error_message = "paused: the Cloud SQL instance must be stopped (activation_policy NEVER)"
  }
  assert {
    condition     = length(module.platform.pause.alerts_enabled) > 0 && alltrue([for k, on in module.platform.pause.alerts_enabled : !on])
    error_message = "paused: every alert policy must be disabled"
  }
  assert {
    condition     = module.platform.platform.paused == true
    error_message = "the contract must say dev is paused"
  }
}

run "running_again" {
  assert {
    condition = alltrue([
      for name, size in module.platform.pause.node_pools : size.autoscaling
    ]) && module.platform.pause.activation_policy == "ALWAYS"
    error_message = "resumed: the autoscaler sizes every pool again and the database runs"
  }
  assert {
    condition     = alltrue([for k, on in module.platform.pause.alerts_enabled : on])
    error_message = "resumed: the alerts are enabled again"
  }
}
