variable "bucket" {
  description = "Name of the artifact bucket (storage module output name): pipeline_runner gets roles/storage.objectUser on it; ui and viewer roles/storage.objectViewer; object_store objectViewer and legacyBucketReader."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", var.bucket)) && !startswith(var.bucket, "gs://")
    error_message = "bucket must be a bucket name such as \"demo-kfp-artifacts\", without gs:// or a path."
  }
}

variable "inverse_proxy" {
  description = "The inverse proxy access mode (docs/manifests.md): enabled creates the agent's service account and its Workload Identity binding; members (\"user:...\", \"group:...\") get roles/iam.serviceAccountUser on it, which is what lets them open the proxy's URL."
  nullable    = false
  type = object({
    enabled = optional(bool, false)
    members = optional(set(string), [])
  })
  default = {}

  validation {
    condition     = alltrue([for m in var.inverse_proxy.members : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])
    error_message = "inverse_proxy.members must be IAM principals such as \"group:ml-team@example.com\" or \"user:ana@example.com\"."
  }
  validation {
    condition     = var.inverse_proxy.enabled || length(var.inverse_proxy.members) == 0
    error_message = "inverse_proxy.members only make sense with inverse_proxy.enabled = true (access \"inverse-proxy\")."
  }
}

variable "kubernetes_service_accounts" {
  description = "Names of the Kubernetes service accounts (in namespace) bound to each Google service account. pipeline_runner, ui and viewer (TensorBoard pods) are upstream KFP's names; cloudsql_proxy and inverse_proxy are kfp-gcp's Deployments'."
  nullable    = false
  type = object({
    cloudsql_proxy  = optional(string, "cloudsql-proxy")
    inverse_proxy   = optional(string, "proxy-agent-runner")
    pipeline_runner = optional(string, "pipeline-runner")
    ui              = optional(string, "ml-pipeline-ui")
    viewer          = optional(string, "kubeflow-pipelines-viewer")
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
  description = "Prefix of every resource name (service accounts are \"<prefix>-kfp-runner\", \"-kfp-ui\", \"-kfp-viewer\", \"-kfp-sqlproxy\", \"-kfp-objstore\" and, with the inverse proxy, \"-kfp-invproxy\")."
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
