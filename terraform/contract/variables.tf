# The outputs contract: what every environment root outputs as `platform`, and what the
# manifests, the pipeline publisher and `kfp-gcp infra outputs` read. Terraform converts
# the value to this type when an environment's test passes it in, so a field that
# disappears or changes type fails that test. Mirror: kfp_gcp.services.infra.PlatformOutputs.

variable "platform" {
  description = "The environment's outputs contract."
  nullable    = false
  type = object({
    artifact_bucket          = string
    cloudsql_connection_name = string
    cloudsql_password_secret = string
    cloudsql_user            = string
    cluster_dns_endpoint     = string
    cluster_location         = string
    cluster_name             = string
    domain                   = string
    environment              = string
    iap_client_id_secret     = string
    iap_client_secret_secret = string
    kfp_namespace            = string
    pipeline_root            = string
    project_id               = string
    region                   = string
    service_accounts = object({
      cloudsql_proxy  = string
      pipeline_runner = string
      ui              = string
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
      for email in values(var.platform.service_accounts) :
      endswith(email, ".iam.gserviceaccount.com")
    ])
    error_message = "service_accounts must be Google service account emails."
  }
}
