variable "labels" {
  description = "Labels merged into the bucket's labels."
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

variable "lifecycle_delete_after_days" {
  description = "Object-name prefix => days: objects under the prefix are deleted (soft-deleted first) that many days after creation, e.g. { \"private-artifacts/\" = 30 } for Argo's archived logs."
  nullable    = false
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for days in values(var.lifecycle_delete_after_days) : days >= 1 && floor(days) == days])
    error_message = "lifecycle_delete_after_days values must be whole numbers of days, at least 1."
  }
  validation {
    condition     = alltrue([for p in keys(var.lifecycle_delete_after_days) : p != "" && !startswith(p, "/") && !startswith(p, "gs://")])
    error_message = "lifecycle_delete_after_days keys must be object-name prefixes inside the bucket such as \"private-artifacts/\": not empty, no leading \"/\", no gs://bucket part."
  }
  # Keep models: every artifact KFP records, models included, lives under the pipeline
  # root, and ML Metadata keeps pointing at it; a rule may delete a narrower folder (one
  # scratch pipeline's) or Argo's logs, never the whole root.
  validation {
    condition     = alltrue([for p in keys(var.lifecycle_delete_after_days) : !startswith("${var.pipeline_root_path}/", p)])
    error_message = "lifecycle_delete_after_days must not delete the whole pipeline root (or a folder above it): it holds every model KFP records. Delete a narrower prefix, such as \"<pipeline_root_path>/<scratch pipeline>/\" or Argo's \"private-artifacts/\", and use lifecycle_storage_class to make old artifacts cheaper instead."
  }
}

variable "lifecycle_storage_class" {
  description = "Storage class => days after creation: objects move to that colder class (from any warmer one), e.g. { NEARLINE = 30, COLDLINE = 90 }. Nothing is deleted. Colder classes cost less to store and more to read (retrieval fees) or to delete early (minimum storage durations of 30, 90 and 365 days)."
  nullable    = false
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for class in keys(var.lifecycle_storage_class) : contains(["NEARLINE", "COLDLINE", "ARCHIVE"], class)])
    error_message = "lifecycle_storage_class keys must be NEARLINE, COLDLINE or ARCHIVE (the bucket starts in STANDARD)."
  }
  validation {
    condition     = alltrue([for days in values(var.lifecycle_storage_class) : days >= 1 && floor(days) == days])
    error_message = "lifecycle_storage_class values must be whole numbers of days, at least 1."
  }
  validation {
    condition = alltrue([
      for pair in [["NEARLINE", "COLDLINE"], ["NEARLINE", "ARCHIVE"], ["COLDLINE", "ARCHIVE"]] :
      lookup(var.lifecycle_storage_class, pair[0], 0) < lookup(var.lifecycle_storage_class, pair[1], 100000)
    ])
    error_message = "lifecycle_storage_class must move objects to colder classes later: NEARLINE before COLDLINE before ARCHIVE, such as { NEARLINE = 30, COLDLINE = 90 }."
  }
}

variable "location" {
  description = "Bucket location: a region (the cluster's region keeps traffic free and close) or a multi-region such as EU."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z]+(-[A-Za-z]+[0-9]+)?$", var.location))
    error_message = "location must be a region such as \"europe-west1\" or a multi-region such as \"EU\" (not a zone)."
  }
}

variable "name" {
  description = "Bucket name; null gives \"<prefix>-kfp-artifacts\". Bucket names are global: override when that one is taken."
  type        = string
  default     = null

  validation {
    condition     = var.name == null || (can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.name)) && !startswith(coalesce(var.name, "x"), "goog") && !strcontains(coalesce(var.name, "x"), "google"))
    error_message = "name must be 3-63 lower-case letters, digits, hyphens and underscores, starting and ending with a letter or digit, without \"goog\" at the start or \"google\" anywhere (dots would need domain verification)."
  }
}

variable "pipeline_root_path" {
  description = "Folder of the bucket that KFP's default pipeline root points at (output pipeline_root = gs://<bucket>/<this>)."
  type        = string
  default     = "pipeline-root"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.pipeline_root_path))
    error_message = "pipeline_root_path must be a relative path inside the bucket such as \"pipeline-root\" or \"v2/artifacts\": letters, digits, \".\", \"_\", \"-\" and single \"/\" between parts, no leading or trailing \"/\"."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (the bucket is \"<prefix>-kfp-artifacts\" unless name is set)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project that holds the bucket."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}

variable "soft_delete_retention_days" {
  description = "Days a deleted or overwritten object stays restorable (soft delete). 0 turns soft delete off."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = floor(var.soft_delete_retention_days) == var.soft_delete_retention_days && (var.soft_delete_retention_days == 0 || (var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90))
    error_message = "soft_delete_retention_days must be 0 (off) or a whole number of days from 7 to 90 (Cloud Storage's limits)."
  }
}

variable "versioning" {
  description = "Object versioning: enabled, and after how many days a noncurrent (replaced or deleted) version is removed (0 = keep them)."
  nullable    = false
  type = object({
    enabled                      = optional(bool, false)
    noncurrent_delete_after_days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = var.versioning.noncurrent_delete_after_days >= 0 && floor(var.versioning.noncurrent_delete_after_days) == var.versioning.noncurrent_delete_after_days
    error_message = "versioning.noncurrent_delete_after_days must be a whole number of days; 0 keeps noncurrent versions forever."
  }
}
