output "pause" {
  description = "What pausing changes, as applied: paused, every node pool's sizing, the database's activation policy and whether each alert is enabled (for tests and reviews; not part of the contract)."
  value = {
    activation_policy = module.cloudsql.activation_policy
    alerts_enabled    = module.monitoring.alerts_enabled
    node_pools        = module.gke.node_pool_sizes
    paused            = local.paused
  }
}

output "platform" {
  description = "The outputs contract (docs/infra-outputs.md, terraform/contract): what the manifests, the pipeline publisher and `kfp-gcp infra outputs` read."
  value = {
    access                   = local.access
    artifact_bucket          = module.storage.name
    cloudsql_connection_name = module.cloudsql.connection_name
    cloudsql_password_secret = module.cloudsql.password_secret
    cloudsql_user            = module.cloudsql.user_name
    cluster_dns_endpoint     = module.gke.endpoint_dns
    cluster_location         = module.gke.location
    cluster_name             = module.gke.name
    control_plane_cidr       = var.settings.network.control_plane_cidr
    domain                   = local.domain
    environment              = var.settings.environment
    iap_client_id_secret     = local.ingress == null ? "" : "projects/${var.settings.project_id}/secrets/${local.ingress.iap_client_id_secret}"
    iap_client_secret_secret = local.ingress == null ? "" : "projects/${var.settings.project_id}/secrets/${local.ingress.iap_client_secret_secret}"
    kfp_namespace            = local.namespace
    paused                   = local.paused
    pipeline_root            = module.storage.pipeline_root
    project_id               = var.settings.project_id
    region                   = var.settings.region
    registry = local.registry == null ? {
      build_bucket = ""
      builder      = ""
      images       = ""
      mirrors      = tomap({})
      pypi         = ""
      } : {
      build_bucket = local.registry.build_bucket
      builder      = local.builder
      images       = local.registry.images
      mirrors      = local.registry.mirrors
      pypi         = local.registry.pypi
    }
    service_accounts  = module.workload_identity.emails
    static_ip_address = local.ingress == null ? "" : local.ingress.static_ip_address
    static_ip_name    = local.ingress == null ? "" : local.ingress.static_ip_name
  }
}
