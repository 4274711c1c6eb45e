# The prod environment as committed (terraform.tfvars.json), planned and applied against
# mocks, then its outputs passed through the contract module (terraform/contract).

mock_provider "google" {
  source = "../../mocks"
}

run "apply" {
  assert {
    condition     = module.platform.pause.paused == false && !try(var.settings.paused, false) && try(var.settings.schedule, null) == null
    error_message = "prod is never paused by its committed settings and has no schedule"
  }
  assert {
    condition     = contains(keys(module.platform.pause.alerts_enabled), "lb-5xx") && alltrue([for k, on in module.platform.pause.alerts_enabled : on])
    error_message = "prod's alerts are on, including the load balancer's 5xx alert (it has a domain)"
  }
  assert {
    condition     = module.platform.platform.environment == "prod"
    error_message = "prod outputs must say environment = prod"
  }
  assert {
    condition     = module.platform.platform.cluster_location == "europe-west1"
    error_message = "prod's cluster must be regional (a replicated control plane)"
  }
  assert {
    condition     = var.settings.cloudsql.ha == true
    error_message = "prod's database must be HA"
  }
  assert {
    condition     = alltrue([for name, pool in var.settings.cluster.node_pools : !try(pool.spot, false)])
    error_message = "prod runs no Spot nodes"
  }
  assert {
    condition     = var.settings.cluster.node_pools.gpu.min_count == 0 && var.settings.cluster.node_pools.gpu.accelerator.count >= 1
    error_message = "the GPU pool must scale to zero"
  }
  assert {
    condition     = module.platform.platform.domain == "kfp.example.com" && module.platform.platform.iap_client_id_secret != ""
    error_message = "prod serves the UI on its domain behind IAP"
  }
  assert {
    condition     = module.platform.platform.access == "iap"
    error_message = "prod's access mode is iap"
  }
  assert {
    condition     = module.platform.platform.static_ip_name == "kfpprod-kfp-ui"
    error_message = "the contract carries the static IP's name for the Ingress annotation"
  }
  assert {
    condition     = startswith(module.platform.platform.pipeline_root, "gs://acme-ml-prod-kfpprod-artifacts/")
    error_message = "the pipeline root lives in prod's artifact bucket"
  }
  assert {
    condition     = module.platform.platform.registry.images == "europe-west1-docker.pkg.dev/acme-ml-prod/kfpprod-images" && module.platform.platform.registry.builder == "kfp-ci-build@acme-ml-prod.iam.gserviceaccount.com"
    error_message = "prod has a component images repository, and the CI build identity from the bootstrap pushes to it"
  }
  assert {
    condition     = toset(keys(module.platform.platform.registry.mirrors)) == toset(["docker.io", "gcr.io", "ghcr.io", "quay.io"]) && module.platform.platform.registry.pypi != ""
    error_message = "prod pulls KFP's images (docker.io, gcr.io, ghcr.io, quay.io) and PyPI through remote repositories"
  }
  assert {
    condition     = var.settings.registry.cleanup.delete_after_days == 365
    error_message = "prod keeps image versions 365 days (settings registry.cleanup; modules/platform passes it to modules/registry)"
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
    condition     = output.platform.service_accounts.ui != ""
    error_message = "the contract module passes the outputs through"
  }
}
