# The outputs contract: what every environment root outputs as `platform`, and what the
# manifests, the pipeline publisher and `kfp-gcp infra outputs` read. Terraform converts
# the value to this type when an environment's test passes it in, so a field that
# disappears or changes type fails that test. Mirror: kfp_gcp.services.infra.PlatformOutputs.

variable "platform" {
  description = "The environment's outputs contract."
  nullable    = false
  type = object({
    access                   = string
    artifact_bucket          = string
    cloudsql_connection_name = string
    cloudsql_password_secret = string
    cloudsql_user            = string
    cluster_dns_endpoint     = string
    cluster_location         = string
    cluster_name             = string
    control_plane_cidr       = string
    domain                   = string
    environment              = string
    iap_client_id_secret     = string
    iap_client_secret_secret = string
    kfp_namespace            = string
    paused                   = bool
    pipeline_root            = string
    project_id               = string
    region                   = string
    registry = object({
      build_bucket = string
      builder      = string
      images       = string
      mirrors      = map(string)
      pypi         = string
    })
    service_accounts = object({
      cloudsql_proxy  = string
      inverse_proxy   = string
      object_store    = string
      pipeline_runner = string
      ui              = string
      viewer          = string
    })
    static_ip_address = string
    static_ip_name    = string
  })

  validation {
    condition     = startswith(var.platform.pipeline_root, "gs://${var.platform.artifact_bucket}/")
    error_message = "pipeline_root must be a gs:// path inside artifact_bucket."
  }
  validation {
    condition     = var.platform.kfp_namespace == "kubeflow"
    error_message = "kfp_namespace must be kubeflow: the Workload Identity bindings name KSAs in it."
  }
  validation {
    condition = alltrue([
      for key, email in var.platform.service_accounts :
      endswith(email, ".iam.gserviceaccount.com") || (key == "inverse_proxy" && email == "")
    ])
    error_message = "service_accounts must be Google service account emails (inverse_proxy is \"\" unless access is inverse-proxy)."
  }
  validation {
    condition     = contains(["port-forward", "inverse-proxy", "iap"], var.platform.access)
    error_message = "access must be port-forward, inverse-proxy or iap."
  }
  validation {
    condition     = (var.platform.access == "iap") == (var.platform.domain != "") && (var.platform.access == "inverse-proxy") == (var.platform.service_accounts.inverse_proxy != "")
    error_message = "access iap goes with a domain, and access inverse-proxy with the agent's service account; the other modes have neither."
  }
  validation {
    condition = (var.platform.registry.images == "") == (var.platform.registry.build_bucket == "") && (
      var.platform.registry.images == "" || can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[a-z][a-z0-9-]{4,28}[a-z0-9]/[a-z][a-z0-9-]*$", var.platform.registry.images))
    )
    error_message = "registry.images must be LOCATION-docker.pkg.dev/PROJECT/REPOSITORY, with the build bucket beside it, or both \"\" when the environment has no registry."
  }
  validation {
    condition = alltrue([
      for registry, path in var.platform.registry.mirrors :
      contains(["docker.io", "gcr.io", "ghcr.io", "quay.io", "registry.k8s.io"], registry) && can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[a-z][a-z0-9-]{4,28}[a-z0-9]/[a-z][a-z0-9-]*$", path))
    ])
    error_message = "registry.mirrors maps docker.io, gcr.io, ghcr.io, quay.io or registry.k8s.io to a remote repository's path (LOCATION-docker.pkg.dev/PROJECT/REPOSITORY)."
  }
  validation {
    condition     = (var.platform.registry.pypi == "" || can(regex("^https://[a-z0-9-]+-python\\.pkg\\.dev/.+/simple/$", var.platform.registry.pypi))) && (var.platform.registry.builder == "" || endswith(var.platform.registry.builder, ".iam.gserviceaccount.com"))
    error_message = "registry.pypi must be a simple index URL (https://LOCATION-python.pkg.dev/PROJECT/REPOSITORY/simple/) or \"\", and registry.builder a service account email or \"\"."
  }
  validation {
    condition     = can(cidrhost(var.platform.control_plane_cidr, 0))
    error_message = "control_plane_cidr must be the GKE control plane's CIDR (the cache webhook's NetworkPolicy admits it)."
  }
}
