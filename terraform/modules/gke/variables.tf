variable "binary_authorization" {
  description = "Enforce the project's Binary Authorization policy on the cluster (PROJECT_SINGLETON_POLICY_ENFORCE). Needs binaryauthorization.googleapis.com enabled; the project's default policy admits every image until someone tightens it."
  type        = bool
  default     = true
  nullable    = false
}

variable "control_plane" {
  description = <<-EOT
    How the control plane is reached. cidr: the control plane's /28 (master_ipv4_cidr_block), the
    same value as the network module's control_plane_cidr. dns_allow_external_traffic: serve the
    DNS-based endpoint to callers outside the VPC (CI), authorised by IAM alone. private_endpoint:
    give the IP-based endpoint no public address. authorized_ranges: name => CIDR allowed on the
    IP-based endpoint (besides the nodes' subnet).
  EOT
  type = object({
    authorized_ranges          = optional(map(string), {})
    cidr                       = string
    dns_allow_external_traffic = optional(bool, true)
    private_endpoint           = optional(bool, true)
  })
  nullable = false

  validation {
    condition     = can(cidrhost(var.control_plane.cidr, 0)) && !strcontains(var.control_plane.cidr, ":") && endswith(var.control_plane.cidr, "/28") && try(cidrhost(var.control_plane.cidr, 0) == split("/", var.control_plane.cidr)[0], false)
    error_message = "control_plane.cidr must be an IPv4 /28 that starts on its network address, such as \"172.16.0.0/28\" (the network module's control_plane_cidr)."
  }

  validation {
    condition = alltrue([
      for name, cidr in var.control_plane.authorized_ranges :
      try(cidrhost(cidr, 0) == split("/", cidr)[0], false) && cidr != "0.0.0.0/0"
    ])
    error_message = "control_plane.authorized_ranges values must be CIDRs that start on their network address, such as \"203.0.113.0/24\", and not 0.0.0.0/0 (use the DNS endpoint for access from anywhere)."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster (Terraform's deletion_protection). Set to false, and apply, before a deliberate destroy."
  type        = bool
  default     = true
  nullable    = false
}

variable "labels" {
  description = "Labels merged into every labelled resource (the cluster and its nodes' VMs)."
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

variable "location" {
  description = "Where the cluster runs: a region (\"europe-west1\") for a regional cluster with a replicated control plane, or a zone (\"europe-west1-b\") for a cheaper zonal one."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+(-[a-z])?$", var.location))
    error_message = "location must be a Google Cloud region such as \"europe-west1\" (regional cluster) or a zone such as \"europe-west1-b\" (zonal cluster)."
  }
}

variable "maintenance_window" {
  description = "Recurring maintenance window (RFC 3339 start and end of the first occurrence, and an RFC 5545 RRULE). GKE needs at least 48 hours of windows in any 32 days; the default, Saturday and Sunday 00:00-08:00 UTC, gives about 72."
  type = object({
    end_time   = optional(string, "2025-01-04T08:00:00Z")
    recurrence = optional(string, "FREQ=WEEKLY;BYDAY=SA,SU")
    start_time = optional(string, "2025-01-04T00:00:00Z")
  })
  default  = {}
  nullable = false

  validation {
    condition = (
      can(timeadd(var.maintenance_window.start_time, "4h")) &&
      can(timeadd(var.maintenance_window.end_time, "0s")) &&
      try(timecmp(timeadd(var.maintenance_window.start_time, "4h"), var.maintenance_window.end_time) <= 0, false) &&
      try(timecmp(timeadd(var.maintenance_window.start_time, "24h"), var.maintenance_window.end_time) >= 0, false)
    )
    error_message = "maintenance_window.start_time and end_time must be RFC 3339 timestamps such as \"2025-01-04T00:00:00Z\", with end_time 4 to 24 hours after start_time."
  }

  validation {
    condition     = can(regex("^FREQ=(DAILY|WEEKLY)(;[A-Z]+=[A-Z0-9,]+)*$", var.maintenance_window.recurrence))
    error_message = "maintenance_window.recurrence must be an RFC 5545 RRULE such as \"FREQ=WEEKLY;BYDAY=SA,SU\" or \"FREQ=DAILY\"."
  }
}

variable "node_pools" {
  description = <<-EOT
    Node pools, by name (the key is the pool's name, so cloud.google.com/gke-nodepool is stable
    across environments). min_count and max_count bound the autoscaler for the whole pool,
    across all its zones (total_min/max_node_count), not per zone. A pool with an accelerator
    scales from 0 and always gets the taint nvidia.com/gpu=present:NoSchedule. taints: key =>
    { value, effect }. zones: the pool's zones, inside location (default: the cluster's).
  EOT
  type = map(object({
    accelerator = optional(object({
      count              = optional(number, 1)
      gpu_driver_version = optional(string, "DEFAULT")
      type               = string
    }))
    disk_size_gb = optional(number, 100)
    disk_type    = optional(string, "pd-balanced")
    labels       = optional(map(string), {})
    machine_type = optional(string, "e2-standard-4")
    max_count    = optional(number, 3)
    min_count    = optional(number, 0)
    spot         = optional(bool, false)
    taints = optional(map(object({
      effect = optional(string, "NO_SCHEDULE")
      value  = string
    })), {})
    zones = optional(set(string))
  }))
  default = {
    system = {
      machine_type = "e2-standard-2"
      min_count    = 1
      max_count    = 2
    }
    cpu = {
      machine_type = "e2-standard-4"
      min_count    = 0
      max_count    = 3
    }
    gpu = {
      machine_type = "n1-standard-4"
      min_count    = 0
      max_count    = 1
      spot         = true
      accelerator = {
        type  = "nvidia-tesla-t4"
        count = 1
      }
    }
  }
  nullable = false

  validation {
    condition     = length(var.node_pools) > 0
    error_message = "node_pools must hold at least one pool, e.g. { system = { machine_type = \"e2-standard-2\", min_count = 1, max_count = 2 } }."
  }

  validation {
    condition     = alltrue([for name, pool in var.node_pools : can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", name))])
    error_message = "node_pools keys are the pools' names: 1-40 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }

  validation {
    condition = alltrue([
      for name, pool in var.node_pools :
      pool.min_count >= 0 && pool.max_count >= 1 && pool.min_count <= pool.max_count &&
      floor(pool.min_count) == pool.min_count && floor(pool.max_count) == pool.max_count
    ])
    error_message = "Each node pool needs whole numbers with 0 <= min_count <= max_count and max_count >= 1 (counts are totals across the pool's zones)."
  }

  validation {
    condition     = alltrue([for name, pool in var.node_pools : pool.accelerator == null || pool.min_count == 0])
    error_message = "A node pool with an accelerator must have min_count = 0, so that idle GPUs scale to zero; set min_count = 0 (or leave it out)."
  }

  validation {
    condition = alltrue([
      for name, pool in var.node_pools :
      pool.accelerator == null || try(
        contains(["DEFAULT", "LATEST", "INSTALLATION_DISABLED"], pool.accelerator.gpu_driver_version) &&
        pool.accelerator.count >= 1 && floor(pool.accelerator.count) == pool.accelerator.count,
        false
      )
    ])
    error_message = "accelerator.gpu_driver_version must be DEFAULT, LATEST or INSTALLATION_DISABLED (then install the driver yourself), and accelerator.count a whole number of at least 1."
  }

  validation {
    condition = alltrue([
      for name, pool in var.node_pools :
      pool.accelerator == null || try(
        startswith(
          pool.machine_type,
          "${lookup({
            nvidia-tesla-t4       = "n1"
            nvidia-tesla-p4       = "n1"
            nvidia-tesla-p100     = "n1"
            nvidia-tesla-v100     = "n1"
            nvidia-l4             = "g2"
            nvidia-tesla-a100     = "a2"
            nvidia-a100-80gb      = "a2"
            nvidia-h100-80gb      = "a3"
            nvidia-h100-mega-80gb = "a3"
          }, pool.accelerator.type, split("-", pool.machine_type)[0])}-"
        ),
        false
      )
    ])
    error_message = "The machine_type does not fit the accelerator: T4, P4, P100 and V100 need an n1-* machine (e.g. n1-standard-4), L4 a g2-*, A100 an a2-*, H100 an a3-*."
  }

  validation {
    condition = alltrue([
      for name, pool in var.node_pools :
      pool.disk_size_gb >= 10 && contains(["pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced"], pool.disk_type)
    ])
    error_message = "Each node pool needs disk_size_gb >= 10 and disk_type pd-balanced, pd-standard, pd-ssd or hyperdisk-balanced."
  }

  validation {
    condition = alltrue(flatten([
      for name, pool in var.node_pools : [
        for key, taint in pool.taints :
        contains(["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"], taint.effect)
      ]
    ]))
    error_message = "taints effects must be NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE (Terraform's spelling of NoSchedule, PreferNoSchedule, NoExecute)."
  }

  validation {
    condition = alltrue(flatten([
      for name, pool in var.node_pools : [
        for zone in coalesce(pool.zones, []) :
        can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", zone)) && startswith(zone, "${regex("^[a-z]+-[a-z]+[0-9]+", var.location)}-")
      ]
    ]))
    error_message = "node_pools zones must be zones of the cluster's region, such as \"europe-west1-b\" for location europe-west1 (or leave zones out to use the cluster's)."
  }
}

variable "node_service_account_users" {
  description = "IAM members that may act as the node service account (roles/iam.serviceAccountUser on that account only), such as the CI apply identity \"serviceAccount:kfp-ci-apply@my-project.iam.gserviceaccount.com\": creating a node pool needs it. Project Owners have it anyway."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for m in var.node_service_account_users : can(regex("^(user|group|serviceAccount):[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", m))])
    error_message = "node_service_account_users must be IAM members such as \"serviceAccount:kfp-ci-apply@my-project.iam.gserviceaccount.com\" or \"group:platform@example.com\"."
  }
}

variable "paused" {
  description = "Pause the cluster's nodes: every pool without autoscaler and at 0 nodes (node_count 0), the control plane kept. false puts the autoscaler back with each pool's min_count and max_count."
  type        = bool
  default     = false
  nullable    = false
}

variable "prefix" {
  description = "Prefix of every resource name, e.g. \"kfp-dev\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "ID of the project that holds the cluster."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 lower-case letters, digits and hyphens, starting with a letter (the ID, not the project's name or number)."
  }
}

variable "release_channel" {
  description = "GKE release channel: RAPID, REGULAR, STABLE or EXTENDED. The channel picks versions and upgrades the control plane and nodes."
  type        = string
  default     = "REGULAR"
  nullable    = false

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE", "EXTENDED"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR, STABLE or EXTENDED (upper case)."
  }
}

variable "vpc_config" {
  description = "The network the cluster lives in: the network module's network_id, subnet_id, pods_range_name and services_range_name."
  type = object({
    network             = string
    pods_range_name     = string
    services_range_name = string
    subnetwork          = string
  })
  nullable = false

  validation {
    condition     = alltrue([for v in values(var.vpc_config) : trimspace(v) != ""])
    error_message = "vpc_config needs network, subnetwork, pods_range_name and services_range_name, e.g. from the network module's network_id, subnet_id, pods_range_name and services_range_name outputs."
  }
}
