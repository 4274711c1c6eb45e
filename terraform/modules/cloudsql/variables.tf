variable "allocated_ip_range" {
  description = "Name of the private services access range to take the instance's IP from; null lets Google pick any range allocated to the connection."
  type        = string
  default     = null

  validation {
    condition     = var.allocated_ip_range == null || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.allocated_ip_range))
    error_message = "allocated_ip_range must be the name (not the CIDR) of a global address reserved for private services access: lower-case letters, digits and hyphens, 1-63 characters, or null."
  }
}

variable "backup" {
  description = "Automated backups (always on, with binary logging for point-in-time recovery): how many to keep, when to take them, how many days of binary logs to keep, and an optional backup location."
  nullable    = false
  type = object({
    location                       = optional(string)
    retain_on_delete               = optional(bool, true)
    retained_backups               = optional(number, 8)
    start_time                     = optional(string, "02:00")
    transaction_log_retention_days = optional(number, 7)
  })
  default = {}

  validation {
    condition     = var.backup.retained_backups >= 1 && var.backup.retained_backups <= 365 && floor(var.backup.retained_backups) == var.backup.retained_backups
    error_message = "backup.retained_backups must be a whole number from 1 to 365 (daily backups kept)."
  }
  validation {
    condition     = var.backup.transaction_log_retention_days >= 1 && var.backup.transaction_log_retention_days <= 7 && floor(var.backup.transaction_log_retention_days) == var.backup.transaction_log_retention_days
    error_message = "backup.transaction_log_retention_days must be a whole number from 1 to 7 (the Enterprise edition limit); it bounds how far back point-in-time recovery reaches."
  }
  validation {
    condition     = var.backup.retained_backups > var.backup.transaction_log_retention_days
    error_message = "backup.retained_backups must be greater than backup.transaction_log_retention_days: the Cloud SQL API refuses otherwise (\"backup retention should be > transaction log retention\"). Keep more backups (the default is 8 for 7 days of logs) or fewer days of logs."
  }
  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):00$", var.backup.start_time))
    error_message = "backup.start_time must be a full hour in UTC as HH:00, e.g. \"02:00\"."
  }
  validation {
    condition     = var.backup.location == null || can(regex("^[a-z]+(-[a-z]+[0-9]+)?$", var.backup.location))
    error_message = "backup.location must be a region (e.g. \"europe-west1\") or a multi-region (\"eu\", \"us\", \"asia\"), or null for the default multi-region nearest the instance."
  }
}

variable "database_flags" {
  description = "Extra MySQL flags, name => value. local_infile=off and skip_show_database=on are always set and cannot be overridden here."
  nullable    = false
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.database_flags), ["local_infile", "skip_show_database"])) == 0
    error_message = "database_flags must not set local_infile or skip_show_database: the module pins them (off and on) for CIS and checkov; remove those keys."
  }
  validation {
    condition     = alltrue([for name in keys(var.database_flags) : can(regex("^[a-z][a-z0-9_.]*$", name))])
    error_message = "database_flags keys must be MySQL flag names as Cloud SQL spells them: lower-case letters, digits, underscores and dots, e.g. \"long_query_time\"."
  }
}

variable "databases" {
  description = "The KFP databases, keyed by the pipeline-install-config key they feed: pipeline (pipelineDb), mlmd (mlmdDb), cache (cacheDb). Defaults are upstream's base/installs/generic values."
  nullable    = false
  type        = map(string)
  default = {
    cache    = "cachedb"
    mlmd     = "metadb"
    pipeline = "mlpipeline"
  }

  validation {
    condition     = length(setsubtract(["cache", "mlmd", "pipeline"], keys(var.databases))) == 0
    error_message = "databases must have the keys cache, mlmd and pipeline (KFP's cacheDb, mlmdDb and pipelineDb); extra keys add more databases."
  }
  validation {
    condition     = alltrue([for name in values(var.databases) : can(regex("^[a-z][a-z0-9_]{0,63}$", name))])
    error_message = "databases values must be MySQL database names: 1-64 lower-case letters, digits and underscores, starting with a letter (no hyphens: KFP does not quote them)."
  }
  validation {
    condition     = length(distinct(values(var.databases))) == length(var.databases)
    error_message = "databases values must be distinct: each KFP component needs its own database."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance, in Terraform (deletion_protection) and in Cloud SQL itself (settings.deletion_protection_enabled, which stops every client). Set to false, and apply, only as the first step of a deliberate teardown (terraform/README.md, \"Tearing an environment down\")."
  type        = bool
  default     = true
  nullable    = false
}

variable "disk" {
  description = "Data disk: initial size in GB (it grows by itself: autoresize is always on), autoresize ceiling in GB (0 = none) and type."
  nullable    = false
  type = object({
    autoresize_limit = optional(number, 0)
    size             = optional(number, 10)
    type             = optional(string, "PD_SSD")
  })
  default = {}

  validation {
    condition     = var.disk.size >= 10 && floor(var.disk.size) == var.disk.size
    error_message = "disk.size must be a whole number of GB, at least 10."
  }
  validation {
    condition     = var.disk.autoresize_limit == 0 || var.disk.autoresize_limit >= var.disk.size
    error_message = "disk.autoresize_limit must be 0 (no limit) or at least disk.size."
  }
  validation {
    condition     = contains(["PD_SSD", "PD_HDD"], var.disk.type)
    error_message = "disk.type must be PD_SSD or PD_HDD (PD_SSD is recommended; PD_HDD cannot be changed later)."
  }
}

variable "ha" {
  description = "true for a regional (high-availability) instance with a standby in a second zone; false for a zonal one."
  type        = bool
  default     = false
  nullable    = false
}

variable "labels" {
  description = "Labels merged into every labelled resource (instance user_labels, the secret)."
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

variable "maintenance_window" {
  description = "When Cloud SQL may restart the instance for maintenance: day (1 = Monday ... 7 = Sunday), hour in UTC (0-23) and update track (stable, canary or week5)."
  nullable    = false
  type = object({
    day          = optional(number, 7)
    hour         = optional(number, 3)
    update_track = optional(string, "stable")
  })
  default = {}

  validation {
    condition     = contains([1, 2, 3, 4, 5, 6, 7], var.maintenance_window.day) && contains(range(24), var.maintenance_window.hour)
    error_message = "maintenance_window.day must be 1-7 (1 = Monday) and maintenance_window.hour a whole hour 0-23 in UTC."
  }
  validation {
    condition     = contains(["stable", "canary", "week5"], var.maintenance_window.update_track)
    error_message = "maintenance_window.update_track must be stable, canary or week5."
  }
}

variable "name_suffix" {
  description = "Appended to the instance name as \"-<suffix>\". Change it to create a new instance when the old name is still blocked (Cloud SQL keeps a deleted instance's name for up to a week)."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.name_suffix == "" || can(regex("^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$", var.name_suffix))
    error_message = "name_suffix must be empty or 1-20 lower-case letters, digits and hyphens, not starting or ending with a hyphen, e.g. \"2\" or \"b\"."
  }
}

variable "password_secret" {
  description = "The Secret Manager secret that holds the KFP user's password: replica locations (empty = automatic replication) and readers (name => IAM member granted roles/secretmanager.secretAccessor, e.g. the CI identity that creates mysql-secret)."
  nullable    = false
  type = object({
    locations = optional(set(string), [])
    readers   = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = alltrue([for l in var.password_secret.locations : can(regex("^[a-z]+-[a-z]+[0-9]+$", l))])
    error_message = "password_secret.locations must be regions such as \"europe-west1\"; leave it empty for automatic replication."
  }
  validation {
    condition     = alltrue([for m in values(var.password_secret.readers) : can(regex("^(serviceAccount|group|user|principal|principalSet):.+", m))])
    error_message = "password_secret.readers values must be IAM members such as \"serviceAccount:ci-deploy@my-project.iam.gserviceaccount.com\" or \"principalSet://...\"."
  }
}

variable "password_version" {
  description = "Bump to rotate the KFP user's password: a new one is generated, stored as a new secret version and set on the user in the same apply."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a whole number, at least 1; increase it by one to rotate the password."
  }
}

variable "paused" {
  description = "Stop the instance (activation_policy NEVER): no compute is billed, storage and backups are kept and billed, no automated backup runs and nothing can connect. false starts it (ALWAYS)."
  type        = bool
  default     = false
  nullable    = false
}

variable "prefix" {
  description = "Prefix of every resource name (the instance is \"<prefix>-kfp\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "private_network" {
  description = "self_link (or id) of the VPC whose private services access connection the instance gets its private IP from."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("projects/[^/]+/global/networks/[a-z]([-a-z0-9]*[a-z0-9])?$", var.private_network))
    error_message = "private_network must be the VPC's self_link or id, ending in \"projects/<project>/global/networks/<name>\"."
  }
}

variable "private_services_connection" {
  description = "Optional id of the google_service_networking_connection (private services access) of private_network. Only used to order creation: the instance waits for it. Leave null if the caller uses depends_on instead."
  type        = string
  default     = null
}

variable "project_id" {
  description = "Project that holds the instance and the secret."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}

variable "query_insights" {
  description = "true to turn on Query Insights (query plans, no client addresses and no application tags recorded)."
  type        = bool
  default     = false
  nullable    = false
}

variable "region" {
  description = "Region of the instance (the GKE cluster's region)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a region such as \"europe-west1\", not a zone."
  }
}

variable "ssl_mode" {
  description = "TLS on the instance's database port: TRUSTED_CLIENT_CERTIFICATE_REQUIRED (default) or ENCRYPTED_ONLY. The Cloud SQL Auth Proxy works with both."
  type        = string
  default     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
  nullable    = false

  validation {
    condition     = contains(["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"], var.ssl_mode)
    error_message = "ssl_mode must be TRUSTED_CLIENT_CERTIFICATE_REQUIRED or ENCRYPTED_ONLY; unencrypted connections are not allowed."
  }
}

variable "tier" {
  description = "Machine type of the instance (Enterprise edition): db-custom-<vCPUs>-<memory MiB>, a legacy db-n1-standard-N / db-n1-highmem-N, or the shared-core db-g1-small (no SLA; dev)."
  type        = string
  default     = "db-custom-1-3840"
  nullable    = false

  # db-g1-small is the one shared-core tier allowed (no SLA: for dev): its 1.7 GB hold the
  # 800Mi that upstream KFP requests for its own MySQL (third-party/mysql); db-f1-micro's
  # 0.6 GB do not.
  validation {
    condition     = can(regex("^db-(custom-[1-9][0-9]*-[1-9][0-9]*|n1-(standard|highmem)-[1-9][0-9]*|g1-small)$", var.tier))
    error_message = "tier must be an Enterprise edition machine type such as \"db-custom-1-3840\" (1 vCPU, 3.75 GiB) or \"db-custom-2-7680\", or the shared-core \"db-g1-small\" (no SLA, for dev); db-f1-micro's 0.6 GB are less than the 800Mi KFP's own MySQL requests."
  }
  validation {
    condition     = !(var.tier == "db-g1-small" && var.ha)
    error_message = "tier db-g1-small has no SLA, so a high-availability (ha = true) instance on it buys little: use a dedicated-core tier such as \"db-custom-1-3840\" with ha, or ha = false."
  }
  # Cloud SQL's custom machine rules ("About instance settings": 1 to 96 vCPUs, 1 or an even
  # number; 0.9 to 6.5 GB of memory per vCPU, a multiple of 256 MB, at least 3.75 GB).
  validation {
    condition = !startswith(var.tier, "db-custom-") || try(
      (tonumber(split("-", var.tier)[2]) == 1 || (tonumber(split("-", var.tier)[2]) % 2 == 0 && tonumber(split("-", var.tier)[2]) <= 96)) &&
      tonumber(split("-", var.tier)[3]) % 256 == 0 &&
      tonumber(split("-", var.tier)[3]) >= 3840 &&
      tonumber(split("-", var.tier)[3]) >= 0.9 * 1024 * tonumber(split("-", var.tier)[2]) &&
      tonumber(split("-", var.tier)[3]) <= 6.5 * 1024 * tonumber(split("-", var.tier)[2]),
      false
    )
    error_message = "tier db-custom-<vCPUs>-<MiB> must have 1 or an even number of vCPUs up to 96, and memory that is a multiple of 256 MiB, at least 3840 MiB and 0.9-6.5 GiB per vCPU, such as \"db-custom-2-7680\" or \"db-custom-4-15360\"."
  }
}

variable "user_name" {
  description = "Name of the MySQL user KFP connects as (written to mysql-secret as username)."
  type        = string
  default     = "kfp"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.user_name)) && !startswith(var.user_name, "root")
    error_message = "user_name must be 1-32 lower-case letters, digits and underscores, starting with a letter, and must not start with \"root\"."
  }
}
