variable "settings" {
  description = "Everything an environment decides, from its terraform.tfvars.json. The modules' own variables validate each part; see terraform/README.md for every field."
  nullable    = false
  type = object({
    environment    = string
    prefix         = string
    project_id     = string
    project_number = string
    region         = string
    labels         = optional(map(string), {})

    # How people reach the KFP UI (docs/manifests.md, "Reaching the UI"): "iap" needs
    # ingress.domain; "port-forward" and "inverse-proxy" need none. Default: "iap" with a
    # domain, else "port-forward".
    access = optional(string)

    # Paused: every node pool at 0 and Cloud SQL stopped (terraform/README.md, "Pausing").
    # `kfp-gcp infra pause/resume` flips it; `schedule` pauses outside its running window.
    paused = optional(bool, false)

    # When the environment runs, in UTC (GitHub Actions' cron is UTC): on these days between
    # from and to; paused otherwise. Only `kfp-gcp infra plan` reads the clock: it passes
    # schedule_pauses_now, and the workflow schedule.yml plans and applies at the boundaries.
    schedule = optional(object({
      days = list(string)
      from = string
      to   = string
    }))

    # The CI apply identity (bootstrap output ci_apply_service_account_email): it reads the
    # database password to create the Kubernetes Secret and acts as the node service account.
    ci_apply_service_account = string
    # The CI publish identity (bootstrap output ci_publish_service_account_email): with a
    # domain, it reaches the KFP API through IAP and reads the IAP client id.
    ci_publish_service_account = string

    # The CI build identity (bootstrap output ci_build_service_account_email): it pushes
    # component images to the registry and runs Cloud Builds. Null: nobody may push.
    ci_build_service_account = optional(string)

    network = optional(object({
      control_plane_cidr = optional(string, "172.16.0.0/28")
      pods_cidr          = optional(string, "10.20.0.0/16")
      psa_range          = optional(string)
      services_cidr      = optional(string, "10.30.0.0/20")
      subnet_cidr        = optional(string, "10.10.0.0/20")
    }), {})

    cluster = object({
      binary_authorization = optional(bool, true)
      deletion_protection  = optional(bool, true)
      # Whether this cluster is the one zonal cluster per billing account that the GKE free
      # tier credits (74.40 USD a month). Only `kfp-gcp infra cost` reads it.
      gke_free_tier = optional(bool, false)
      location      = string
      # Passed to modules/gke unchanged (its node_pools variable documents the fields).
      node_pools      = optional(any)
      release_channel = optional(string, "REGULAR")
    })

    cloudsql = optional(object({
      # Passed to modules/cloudsql's backup (automated backups, binary logs for point-in-time
      # recovery); unset fields keep that module's defaults.
      backup = optional(object({
        location                       = optional(string)
        retained_backups               = optional(number)
        start_time                     = optional(string)
        transaction_log_retention_days = optional(number)
      }), {})
      deletion_protection = optional(bool, true)
      disk_size_gb        = optional(number, 10)
      ha                  = optional(bool, false)
      name_suffix         = optional(string, "")
      password_version    = optional(number, 1)
      tier                = optional(string, "db-custom-1-3840")
    }), {})

    storage = optional(object({
      lifecycle_delete_after_days = optional(map(number), {})
      lifecycle_storage_class     = optional(map(number), {})
      location                    = optional(string)
      soft_delete_retention_days  = optional(number, 7)
    }), {})

    # No domain: no static IP, IAP or certificate; the UI is reached by port-forward or the
    # inverse proxy (access). inverse_proxy_members may open the inverse proxy's URL.
    ingress = optional(object({
      deletion_protection   = optional(bool, true)
      dns_managed_zone      = optional(string)
      domain                = optional(string, "")
      iap_members           = optional(set(string), [])
      inverse_proxy_members = optional(set(string), [])
    }), {})

    # Alerts, the dashboard and log retention (modules/monitoring): who is told (emails,
    # pubsub, webhook_url), the thresholds by name, and how long logs are kept.
    monitoring = optional(object({
      emails             = optional(map(string), {})
      log_retention_days = optional(number, 30)
      pubsub             = optional(bool, false)
      thresholds         = optional(map(number), {})
      webhook_url        = optional(string)
    }), {})

    # Artifact Registry (modules/registry): the component images repository, and remote
    # repositories that pull public registries and PyPI. cleanup and remotes are that
    # module's variables (null: its defaults); readers: extra members that may pull, such
    # as a publisher identity that checks images exist before deploying.
    registry = optional(object({
      cleanup = optional(any, {})
      enabled = optional(bool, true)
      readers = optional(map(string), {})
      remotes = optional(set(string))
    }), {})

    budget = optional(object({
      amount             = number
      billing_account_id = string
      currency_code      = optional(string)
      emails             = optional(map(string), {})
      thresholds         = optional(list(number), [50, 90, 100])
    }))
  })

  validation {
    condition     = contains(["dev", "staging", "prod"], var.settings.environment)
    error_message = "settings.environment must be dev, staging or prod (it labels every resource and names the outputs)."
  }
  validation {
    condition     = !var.settings.cluster.gke_free_tier || length(split("-", var.settings.cluster.location)) == 3
    error_message = "settings.cluster.gke_free_tier is true, but the GKE free tier credits only a zonal (or Autopilot) cluster: set cluster.location to a zone such as \"europe-west1-b\", or gke_free_tier to false."
  }
  validation {
    condition     = var.settings.access == null || contains(["port-forward", "inverse-proxy", "iap"], coalesce(var.settings.access, "iap"))
    error_message = "settings.access must be \"port-forward\", \"inverse-proxy\" or \"iap\" (or left out: iap with a domain, port-forward without)."
  }
  validation {
    condition     = var.settings.access == null || (var.settings.access == "iap") == (try(var.settings.ingress.domain, "") != "")
    error_message = "settings.access \"iap\" needs settings.ingress.domain, and the other access modes need no domain: set both consistently."
  }
  validation {
    condition     = length(try(var.settings.ingress.inverse_proxy_members, [])) == 0 || var.settings.access == "inverse-proxy"
    error_message = "settings.ingress.inverse_proxy_members only apply with settings.access = \"inverse-proxy\"."
  }
  validation {
    condition = var.settings.schedule == null || try(
      length(var.settings.schedule.days) > 0 &&
      alltrue([for d in var.settings.schedule.days : contains(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], d)]) &&
      can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.settings.schedule.from)) &&
      can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.settings.schedule.to)) &&
      tonumber(replace(var.settings.schedule.from, ":", "")) < tonumber(replace(var.settings.schedule.to, ":", "")),
      false
    )
    error_message = "settings.schedule must name the days the environment runs (mon, tue, wed, thu, fri, sat, sun) and from < to as HH:MM in UTC, such as { \"days\": [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"], \"from\": \"06:00\", \"to\": \"19:00\" }; outside that window it is paused."
  }
  # A stopped instance takes no automated backup: with a schedule, the 4-hour window that
  # starts at backup.start_time must lie inside the running hours.
  validation {
    condition = var.settings.schedule == null || try(
      (
        tonumber(split(":", coalesce(var.settings.cloudsql.backup.start_time, "02:00"))[0]) * 60 >=
        tonumber(split(":", var.settings.schedule.from)[0]) * 60 + tonumber(split(":", var.settings.schedule.from)[1])
        ) && (
        tonumber(split(":", coalesce(var.settings.cloudsql.backup.start_time, "02:00"))[0]) * 60 + 240 <=
        tonumber(split(":", var.settings.schedule.to)[0]) * 60 + tonumber(split(":", var.settings.schedule.to)[1])
      ),
      false
    )
    error_message = "settings.cloudsql.backup.start_time (default 02:00 UTC) and the 4 hours after it must fall inside settings.schedule's running hours, since a stopped instance takes no automated backup: e.g. \"start_time\": \"12:00\" for a schedule from 06:00 to 19:00."
  }
  validation {
    condition     = var.settings.ci_build_service_account == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", coalesce(var.settings.ci_build_service_account, "x")))
    error_message = "settings.ci_build_service_account must be the CI build identity's email (terraform/bootstrap output ci_build_service_account_email), such as \"kfp-ci-build@my-project.iam.gserviceaccount.com\", or left out."
  }
  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.settings.project_number))
    error_message = "settings.project_number must be the project's number (digits), from `gcloud projects describe PROJECT_ID --format='value(projectNumber)'`."
  }
}

variable "schedule_pauses_now" {
  description = "Set by `kfp-gcp infra plan` from settings.schedule and the clock: true while the schedule has the environment paused. Paused is settings.paused or this."
  type        = bool
  default     = false
  nullable    = false
}
