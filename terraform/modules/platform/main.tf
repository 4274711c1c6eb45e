locals {
  labels    = merge({ environment = var.settings.environment, managed-by = "kfp-gcp" }, var.settings.labels)
  domain    = var.settings.ingress.domain
  access    = coalesce(var.settings.access, local.domain == "" ? "port-forward" : "iap")
  namespace = "kubeflow"
  ingress   = one(module.ingress)  # null in no-domain mode
  registry  = one(module.registry) # null with registry.enabled = false
  builder   = var.settings.ci_build_service_account == null ? "" : var.settings.ci_build_service_account
  paused    = var.settings.paused || var.schedule_pauses_now
  # Pools with an accelerator, for the GPU-idle alert; null node_pools means the gke
  # module's defaults, whose "gpu" pool has one.
  gpu_pools = var.settings.cluster.node_pools == null ? ["gpu"] : [
    for name, pool in var.settings.cluster.node_pools : name if try(pool.accelerator, null) != null
  ]
}

module "network" {
  source             = "../network"
  control_plane_cidr = var.settings.network.control_plane_cidr
  labels             = local.labels
  prefix             = var.settings.prefix
  project_id         = var.settings.project_id
  psa_range          = var.settings.network.psa_range
  region             = var.settings.region
  subnet = {
    cidr          = var.settings.network.subnet_cidr
    pods_cidr     = var.settings.network.pods_cidr
    services_cidr = var.settings.network.services_cidr
  }
}

module "gke" {
  # checkov:skip=CKV_GCP_21:checkov cannot resolve labels merged from settings; the gke module's own scan passes it and every cluster gets environment and managed-by labels
  # checkov:skip=CKV_GCP_66:checkov cannot resolve binary_authorization through the settings object; it defaults to true and the gke module's own scan passes it
  source               = "../gke"
  binary_authorization = var.settings.cluster.binary_authorization
  control_plane        = { cidr = var.settings.network.control_plane_cidr }
  deletion_protection  = var.settings.cluster.deletion_protection
  labels               = local.labels
  location             = var.settings.cluster.location
  node_pools           = var.settings.cluster.node_pools # null: the module's default pools
  # CI creates and changes node pools, so it acts as their service account (and only it).
  node_service_account_users = ["serviceAccount:${var.settings.ci_apply_service_account}"]
  paused                     = local.paused
  prefix                     = var.settings.prefix
  project_id                 = var.settings.project_id
  release_channel            = var.settings.cluster.release_channel
  vpc_config = {
    network             = module.network.network_self_link
    pods_range_name     = module.network.pods_range_name
    services_range_name = module.network.services_range_name
    subnetwork          = module.network.subnet_self_link
  }
}

module "storage" {
  source                      = "../storage"
  labels                      = local.labels
  lifecycle_delete_after_days = var.settings.storage.lifecycle_delete_after_days
  lifecycle_storage_class     = var.settings.storage.lifecycle_storage_class
  location                    = coalesce(var.settings.storage.location, var.settings.region)
  # Bucket names are global: the project id keeps forks of this template from colliding.
  name                       = "${var.settings.project_id}-${var.settings.prefix}-artifacts"
  prefix                     = var.settings.prefix
  project_id                 = var.settings.project_id
  soft_delete_retention_days = var.settings.storage.soft_delete_retention_days
}

module "cloudsql" {
  source                      = "../cloudsql"
  allocated_ip_range          = module.network.psa_range_name
  backup                      = var.settings.cloudsql.backup
  deletion_protection         = var.settings.cloudsql.deletion_protection
  disk                        = { size = var.settings.cloudsql.disk_size_gb }
  ha                          = var.settings.cloudsql.ha
  labels                      = local.labels
  name_suffix                 = var.settings.cloudsql.name_suffix
  password_version            = var.settings.cloudsql.password_version
  paused                      = local.paused
  prefix                      = var.settings.prefix
  private_network             = module.network.network_self_link
  private_services_connection = module.network.psa_connection
  project_id                  = var.settings.project_id
  region                      = var.settings.region
  tier                        = var.settings.cloudsql.tier
  password_secret = {
    readers = { ci-apply = "serviceAccount:${var.settings.ci_apply_service_account}" }
  }
}

module "workload_identity" {
  source = "../workload-identity"
  bucket = module.storage.name
  inverse_proxy = {
    enabled = local.access == "inverse-proxy"
    members = var.settings.ingress.inverse_proxy_members
  }
  namespace  = local.namespace
  prefix     = var.settings.prefix
  project_id = var.settings.project_id
  # The pool exists only once the cluster does.
  depends_on = [module.gke]
}

module "registry" {
  source       = "../registry"
  count        = var.settings.registry.enabled ? 1 : 0
  build_bucket = { name = "${var.settings.project_id}-${var.settings.prefix}-builds" }
  cleanup      = var.settings.registry.cleanup
  labels       = local.labels
  location     = var.settings.region
  prefix       = var.settings.prefix
  project_id   = var.settings.project_id
  # Nodes pull the images; pipeline steps pip-install through the PyPI mirror as the runner;
  # the publisher reads each image's digest before it publishes (no image, no publish).
  readers = merge({
    nodes           = "serviceAccount:${module.gke.node_service_account}"
    pipeline-runner = "serviceAccount:${module.workload_identity.emails.pipeline_runner}"
    ci-publish      = "serviceAccount:${var.settings.ci_publish_service_account}"
  }, var.settings.registry.readers)
  remotes = var.settings.registry.remotes
  writers = local.builder == "" ? {} : { ci-build = "serviceAccount:${local.builder}" }
}

module "ingress" {
  source                           = "../ingress"
  count                            = local.domain == "" ? 0 : 1
  ci_publish_service_account_email = var.settings.ci_publish_service_account
  deletion_protection              = var.settings.ingress.deletion_protection
  dns = var.settings.ingress.dns_managed_zone == null ? null : {
    managed_zone = var.settings.ingress.dns_managed_zone
  }
  domain      = local.domain
  iap_members = var.settings.ingress.iap_members
  labels      = local.labels
  prefix      = var.settings.prefix
  project_id  = var.settings.project_id
}

module "monitoring" {
  source             = "../monitoring"
  labels             = local.labels
  log_retention_days = var.settings.monitoring.log_retention_days
  notifications = {
    emails      = var.settings.monitoring.emails
    pubsub      = var.settings.monitoring.pubsub
    webhook_url = var.settings.monitoring.webhook_url
  }
  paused         = local.paused
  prefix         = var.settings.prefix
  project_id     = var.settings.project_id
  project_number = var.settings.project_number
  targets = {
    cloudsql_instance = module.cloudsql.instance_name
    cluster_name      = module.gke.name
    domain            = local.domain
    gpu_pools         = local.gpu_pools
    namespace         = local.namespace
  }
  thresholds = var.settings.monitoring.thresholds
}

module "budget" {
  source             = "../budget"
  count              = var.settings.budget == null ? 0 : 1
  amount             = { units = var.settings.budget.amount, currency_code = var.settings.budget.currency_code }
  billing_account_id = var.settings.budget.billing_account_id
  labels             = local.labels
  notifications      = { emails = var.settings.budget.emails, channels = module.monitoring.email_channels }
  prefix             = var.settings.prefix
  project_id         = var.settings.project_id
  project_number     = var.settings.project_number
  thresholds         = { current = var.settings.budget.thresholds }
}
