variable "build_bucket" {
  description = "The bucket `kfp-gcp images push --builder cloudbuild` stages sources and writes build logs in (Cloud Build needs one of ours when it runs as a user-specified service account). name: a global bucket name. delete_after_days: objects expire after that many days."
  nullable    = false
  type = object({
    delete_after_days = optional(number, 7)
    name              = string
  })

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.build_bucket.name)) && !startswith(var.build_bucket.name, "goog") && !strcontains(var.build_bucket.name, "google")
    error_message = "build_bucket.name must be 3-63 lower-case letters, digits, hyphens and underscores, starting and ending with a letter or digit, without \"goog\" at the start or \"google\" anywhere."
  }
  validation {
    condition     = var.build_bucket.delete_after_days >= 1 && floor(var.build_bucket.delete_after_days) == var.build_bucket.delete_after_days
    error_message = "build_bucket.delete_after_days must be a whole number of days, at least 1 (staged sources and logs are only needed while a build runs and is looked at)."
  }
}

variable "cleanup" {
  description = "Cleanup of the component images repository. keep_recent: the newest versions of each image that are always kept. delete_after_days: older versions go after that many days (0: never). untagged_after_days: versions without a tag (failed or superseded pushes) go after that many days. dry_run: only log what would go."
  nullable    = false
  type = object({
    delete_after_days   = optional(number, 180)
    dry_run             = optional(bool, false)
    keep_recent         = optional(number, 10)
    untagged_after_days = optional(number, 7)
  })
  default = {}

  validation {
    condition     = var.cleanup.keep_recent >= 1 && floor(var.cleanup.keep_recent) == var.cleanup.keep_recent
    error_message = "cleanup.keep_recent must be a whole number, at least 1: the image a deployed pipeline version names must never be cleaned up."
  }
  validation {
    condition     = var.cleanup.delete_after_days == 0 || (var.cleanup.delete_after_days >= 30 && floor(var.cleanup.delete_after_days) == var.cleanup.delete_after_days)
    error_message = "cleanup.delete_after_days must be a whole number of days, at least 30 (older pipeline versions and their schedules still name those images), or 0 to keep every tagged version."
  }
  validation {
    condition     = var.cleanup.untagged_after_days >= 1 && floor(var.cleanup.untagged_after_days) == var.cleanup.untagged_after_days
    error_message = "cleanup.untagged_after_days must be a whole number of days, at least 1."
  }
}

variable "labels" {
  description = "Labels of every repository and the build bucket."
  nullable    = false
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "labels keys must start with a lower-case letter and, like values, use only lower-case letters, digits, underscores and hyphens (keys 1-63, values 0-63 characters)."
  }
}

variable "location" {
  description = "Region of the repositories and the build bucket: the cluster's, so pulls stay in the region."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.location))
    error_message = "location must be a region such as \"europe-west1\" (not a zone or a multi-region): nodes pull from the repositories in their own region."
  }
}

variable "prefix" {
  description = "Prefix of every repository id (\"<prefix>-images\", \"<prefix>-docker-hub\", ...)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project that holds the repositories."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}

variable "readers" {
  description = "Key => member that may pull from every repository: the nodes' service account (images), the pipeline runner (PyPI), a publisher that checks images exist."
  nullable    = false
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for m in values(var.readers) : can(regex("^(serviceAccount|group|user|principal|principalSet):", m))])
    error_message = "readers values must be IAM members such as \"serviceAccount:kfp-gke-nodes@my-project.iam.gserviceaccount.com\"."
  }
}

variable "remotes" {
  description = "The public registries to pull through a remote repository: any of docker.io, gcr.io, ghcr.io, quay.io, registry.k8s.io and pypi. The rendered KFP manifests use the first four; pypi serves pip."
  type        = set(string)
  nullable    = false
  default     = ["docker.io", "gcr.io", "ghcr.io", "quay.io", "pypi"]

  validation {
    condition     = length(setsubtract(var.remotes, ["docker.io", "gcr.io", "ghcr.io", "quay.io", "registry.k8s.io", "pypi"])) == 0
    error_message = "remotes may only name docker.io, gcr.io, ghcr.io, quay.io, registry.k8s.io and pypi (the registries KFP's manifests and pip use)."
  }
}

variable "writers" {
  description = "Key => member that pushes component images and runs Cloud Builds with the build bucket: the CI build identity (terraform/bootstrap ci_build_service_account_email), never the apply identity."
  nullable    = false
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for m in values(var.writers) : can(regex("^serviceAccount:", m))])
    error_message = "writers values must be service accounts (\"serviceAccount:EMAIL\"): pushes come from CI."
  }
}
