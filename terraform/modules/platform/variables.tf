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

    # The CI apply identity (bootstrap output ci_apply_service_account_email): it reaches
    # the KFP API through IAP and reads the database password to create the Kubernetes Secret.
    ci_apply_service_account = string

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
      deletion_protection = optional(bool, true)
      disk_size_gb        = optional(number, 10)
      ha                  = optional(bool, false)
      name_suffix         = optional(string, "")
      password_version    = optional(number, 1)
      tier                = optional(string, "db-custom-1-3840")
    }), {})

    storage = optional(object({
      lifecycle_delete_after_days = optional(map(number), {})
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
    condition     = var.settings.ci_build_service_account == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", coalesce(var.settings.ci_build_service_account, "x")))
    error_message = "settings.ci_build_service_account must be the CI build identity's email (terraform/bootstrap output ci_build_service_account_email), such as \"kfp-ci-build@my-project.iam.gserviceaccount.com\", or left out."
  }
  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.settings.project_number))
    error_message = "settings.project_number must be the project's number (digits), from `gcloud projects describe PROJECT_ID --format='value(projectNumber)'`."
  }
}
