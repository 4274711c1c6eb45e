variable "bucket" {
  description = "Name of the artifact bucket (storage module output name): pipeline_runner gets roles/storage.objectUser and ui roles/storage.objectViewer on it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", var.bucket)) && !startswith(var.bucket, "gs://")
    error_message = "bucket must be a bucket name such as \"demo-kfp-artifacts\", without gs:// or a path."
  }
}

variable "kubernetes_service_accounts" {
  description = "Names of the Kubernetes service accounts (in namespace) bound to each Google service account. pipeline_runner and ui are upstream KFP's names; cloudsql_proxy is the Auth Proxy Deployment's."
  nullable    = false
  type = object({
    cloudsql_proxy  = optional(string, "cloudsql-proxy")
    pipeline_runner = optional(string, "pipeline-runner")
    ui              = optional(string, "ml-pipeline-ui")
  })
  default = {}

  validation {
    condition = alltrue([
      for ksa in values(var.kubernetes_service_accounts) :
      can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", ksa))
    ])
    error_message = "kubernetes_service_accounts values must be Kubernetes names: lower-case letters, digits, \"-\" and \".\", starting and ending with a letter or digit."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the KFP service accounts."
  type        = string
  default     = "kubeflow"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a Kubernetes namespace name: 1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit (KFP uses \"kubeflow\")."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (service accounts are \"<prefix>-kfp-runner\", \"<prefix>-kfp-ui\" and \"<prefix>-kfp-sqlproxy\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project of the service accounts, of the GKE cluster (its workload pool is <project_id>.svc.id.goog) and of the Cloud SQL instance."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}
