variable "ci_publish_service_account_email" {
  description = "Email of the CI publish service account (the bootstrap's ci_publish_service_account_email output). It is granted IAP access and may read the IAP OAuth client id (the ID token's audience), so that the deploy workflow can publish pipelines to the KFP API behind IAP."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\\.iam\\.gserviceaccount\\.com$", var.ci_publish_service_account_email))
    error_message = "ci_publish_service_account_email must be a service account email such as \"kfp-ci-publish@my-project.iam.gserviceaccount.com\" (no \"serviceAccount:\" prefix): take the bootstrap's ci_publish_service_account_email output."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the two IAP OAuth secrets (Secret Manager deletion_protection). Their versions are typed in by a person; set to false, and apply, before a deliberate destroy."
  type        = bool
  default     = true
  nullable    = false
}

variable "dns" {
  description = "Optional A record for domain in an existing Cloud DNS managed zone: the zone's name (not its DNS name), the zone's project (default: project_id) and the record's TTL in seconds. Null: no record; point the domain at static_ip_address yourself."
  type = object({
    managed_zone = string
    project      = optional(string)
    ttl          = optional(number, 300)
  })
  default = null

  validation {
    condition     = var.dns == null ? true : can(regex("^[a-z][a-z0-9-]{0,62}$", var.dns.managed_zone))
    error_message = "dns.managed_zone must be the managed zone's name (gcloud dns managed-zones list, column NAME), such as \"example-com\", not its DNS name."
  }
  validation {
    condition     = var.dns == null ? true : (var.dns.project == null ? true : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.dns.project)))
    error_message = "dns.project must be a project id such as \"dns-hub-1234\", or left out to use project_id."
  }
  validation {
    condition     = var.dns == null ? true : (var.dns.ttl >= 30 && var.dns.ttl <= 86400 && floor(var.dns.ttl) == var.dns.ttl)
    error_message = "dns.ttl must be a whole number of seconds between 30 and 86400, such as 300."
  }
}

variable "domain" {
  description = "Fully qualified domain name of the KFP UI, such as \"kfp.example.com\", without a trailing dot. The ManagedCertificate and the IAP redirect use it."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.domain) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.domain))
    error_message = "domain must be a lower-case fully qualified domain name such as \"kfp.example.com\": no scheme, no trailing dot, no wildcard."
  }
}

variable "iap_members" {
  description = "Who may pass IAP to the KFP UI and API (roles/iap.httpsResourceAccessor): IAM members such as \"group:ml-team@example.com\", \"user:ana@example.com\", \"serviceAccount:sa@p.iam.gserviceaccount.com\" or \"domain:example.com\". The CI publish identity is added on its own."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for m in var.iap_members :
      can(regex("^(user|group|serviceAccount):[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", m)) || can(regex("^domain:([a-z0-9-]+\\.)+[a-z]{2,63}$", m))
    ])
    error_message = "iap_members must be IAM members that start with \"user:\", \"group:\" or \"serviceAccount:\" followed by an email, or \"domain:\" followed by a domain, e.g. \"group:ml-team@example.com\"."
  }
}

variable "labels" {
  description = "Labels merged into every labelled resource (the static IP and the secrets)."
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

variable "prefix" {
  description = "Prefix of every resource name (the static IP is \"<prefix>-kfp-ui\", the secrets \"<prefix>-iap-client-id\" and \"<prefix>-iap-client-secret\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project that holds the static IP, the secrets and the IAP access (the cluster's project)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lower-case letters, digits and hyphens, starting with a letter), such as \"my-kfp-project\", not the project number or name."
  }
}
