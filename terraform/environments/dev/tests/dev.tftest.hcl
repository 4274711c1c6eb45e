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
