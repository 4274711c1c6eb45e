variable "labels" {
  description = "Labels merged into every labelled resource (notification channels, alert policies, the Pub/Sub topic)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for k, v in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "labels keys must start with a lower-case letter and, like values, use only lower-case letters, digits, '_' and '-' (at most 63 characters)."
  }
}

variable "log_retention_days" {
  description = "Days the project's _Default log bucket keeps logs. Cloud Logging stores the first 30 days at no charge; longer retention is billed per GiB and month."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650 && floor(var.log_retention_days) == var.log_retention_days
    error_message = "log_retention_days must be a whole number of days from 1 to 3650 (30 is free)."
  }
}

variable "notifications" {
  description = <<-EOT
    Where alerts go. emails: name => address, one email channel each. pubsub: true creates the
    topic "<prefix>-alerts" and a channel that publishes every incident to it (subscribe a chat
    bridge or a function to it). webhook_url: an https endpoint that gets every incident as JSON
    (webhook_tokenauth); the URL is stored in the Terraform state and in git, so use one without
    a secret in it, or the Pub/Sub topic.
  EOT
  type = object({
    emails      = optional(map(string), {})
    pubsub      = optional(bool, false)
    webhook_url = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for e in values(var.notifications.emails) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notifications.emails values must be email addresses such as \"ml-platform@example.com\"."
  }
  validation {
    condition     = alltrue([for k in keys(var.notifications.emails) : can(regex("^[a-z][a-z0-9-]{0,29}$", k))])
    error_message = "notifications.emails keys must be short names of lower-case letters, digits and hyphens, starting with a letter, such as \"platform\"."
  }
  validation {
    condition     = var.notifications.webhook_url == null || can(regex("^https://[^\\s]+$", coalesce(var.notifications.webhook_url, "x")))
    error_message = "notifications.webhook_url must be an https:// URL (or left out)."
  }
}

variable "paused" {
  description = "The environment is paused (no nodes, database stopped): every alert policy is disabled, since each would otherwise fire on the pause itself. The channels, the dashboard and the log retention stay."
  type        = bool
  default     = false
  nullable    = false
}

variable "prefix" {
  description = "Prefix of every resource name (policies \"<prefix> ...\", the topic \"<prefix>-alerts\", the dashboard)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project of the environment: the alert policies, channels and dashboard live there."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}

variable "project_number" {
  description = "Number of the project: the Cloud Monitoring notification service agent (service-<number>@gcp-sa-monitoring-notification.iam.gserviceaccount.com) gets publish rights on the alerts topic."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]{5,19}$", var.project_number))
    error_message = "project_number must be the project's number, digits only, such as \"123456789012\" (gcloud projects describe <project_id> --format='value(projectNumber)')."
  }
}

variable "targets" {
  description = <<-EOT
    What is watched. cluster_name: the GKE cluster. cloudsql_instance: the Cloud SQL instance's
    name (not the connection name). namespace: KFP's namespace. gpu_pools: names of the node
    pools with accelerators (the GPU-idle alert watches their nodes; empty: no such alert).
    domain: the UI's domain behind IAP (the load balancer 5xx alert exists only with one).
  EOT
  type = object({
    cloudsql_instance = string
    cluster_name      = string
    domain            = optional(string, "")
    gpu_pools         = optional(set(string), [])
    namespace         = optional(string, "kubeflow")
  })
  nullable = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.targets.cloudsql_instance)) && !strcontains(var.targets.cloudsql_instance, ":")
    error_message = "targets.cloudsql_instance must be the instance's name such as \"kfpdev-kfp\" (the cloudsql module's instance_name output), not its connection name."
  }
  validation {
    condition     = alltrue([for p in var.targets.gpu_pools : can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", p))])
    error_message = "targets.gpu_pools must be node pool names such as \"gpu\" (the gke module's node_pools keys)."
  }
}

variable "thresholds" {
  description = <<-EOT
    When each alert fires. cloudsql_cpu, cloudsql_memory, cloudsql_disk: utilisation (0-1) held for
    10 minutes. unavailable_minutes: a KFP Deployment with fewer available replicas than desired
    for this long. restarts_per_hour: container restarts in KFP's namespace within an hour.
    gpu_idle_minutes and gpu_idle_duty_cycle: a GPU node running while no container keeps an
    accelerator busier than this percentage, for this long. failed_runs_per_hour: pipeline runs
    (Argo workflows) that ended Failed or Error within an hour. lb_5xx_ratio: the share of 5xx
    answers at the load balancer over 5 minutes.
  EOT
  type = object({
    cloudsql_cpu         = optional(number, 0.8)
    cloudsql_disk        = optional(number, 0.85)
    cloudsql_memory      = optional(number, 0.9)
    failed_runs_per_hour = optional(number, 1)
    gpu_idle_duty_cycle  = optional(number, 5)
    gpu_idle_minutes     = optional(number, 30)
    lb_5xx_ratio         = optional(number, 0.05)
    restarts_per_hour    = optional(number, 3)
    unavailable_minutes  = optional(number, 10)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for v in [var.thresholds.cloudsql_cpu, var.thresholds.cloudsql_disk, var.thresholds.cloudsql_memory, var.thresholds.lb_5xx_ratio] :
      v > 0 && v <= 1
    ])
    error_message = "thresholds.cloudsql_cpu, cloudsql_disk, cloudsql_memory and lb_5xx_ratio are fractions greater than 0 and at most 1, such as 0.8 (write 0.8, not 80)."
  }
  validation {
    condition = alltrue([
      for v in [var.thresholds.failed_runs_per_hour, var.thresholds.restarts_per_hour, var.thresholds.gpu_idle_minutes, var.thresholds.unavailable_minutes] :
      v >= 1 && floor(v) == v
    ])
    error_message = "thresholds.failed_runs_per_hour, restarts_per_hour, gpu_idle_minutes and unavailable_minutes must be whole numbers, at least 1."
  }
  validation {
    condition     = var.thresholds.gpu_idle_duty_cycle > 0 && var.thresholds.gpu_idle_duty_cycle < 100
    error_message = "thresholds.gpu_idle_duty_cycle is a percentage of time an accelerator is busy, between 0 and 100, such as 5."
  }
}
