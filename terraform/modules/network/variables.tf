variable "control_plane_cidr" {
  description = "The GKE control plane's /28 (the cluster's master_ipv4_cidr_block). Pass the same value to the gke module's control_plane.cidr: the firewall rule lets this range reach the nodes' webhook ports."
  type        = string
  nullable    = false

  validation {
    condition     = can(cidrhost(var.control_plane_cidr, 0)) && !strcontains(var.control_plane_cidr, ":") && endswith(var.control_plane_cidr, "/28") && try(cidrhost(var.control_plane_cidr, 0) == split("/", var.control_plane_cidr)[0], false)
    error_message = "control_plane_cidr must be an IPv4 /28 that starts on its network address, such as \"172.16.0.0/28\" (GKE requires a /28 for a private control plane)."
  }
}

variable "labels" {
  description = "Labels merged into every labelled resource (the private services access range)."
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

variable "nat" {
  description = "Cloud NAT settings. Ports per VM are allocated dynamically between min_ports_per_vm and max_ports_per_vm (both powers of two); log_filter selects what NAT logs."
  type = object({
    log_filter       = optional(string, "ERRORS_ONLY")
    max_ports_per_vm = optional(number, 4096)
    min_ports_per_vm = optional(number, 64)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["ALL", "ERRORS_ONLY", "TRANSLATIONS_ONLY"], var.nat.log_filter)
    error_message = "nat.log_filter must be one of ERRORS_ONLY (the default), TRANSLATIONS_ONLY or ALL."
  }

  validation {
    condition = (
      contains([for i in range(5, 17) : pow(2, i)], var.nat.min_ports_per_vm) &&
      contains([for i in range(6, 17) : pow(2, i)], var.nat.max_ports_per_vm) &&
      var.nat.min_ports_per_vm < var.nat.max_ports_per_vm
    )
    error_message = "nat.min_ports_per_vm (32-32768) and nat.max_ports_per_vm (64-65536) must be powers of two, with min_ports_per_vm below max_ports_per_vm, e.g. 64 and 4096."
  }
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
  description = "ID of the project that holds the network."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 lower-case letters, digits and hyphens, starting with a letter (the ID, not the project's name or number)."
  }
}

variable "psa_range" {
  description = "Range reserved for private services access (Cloud SQL's private IP): an IPv4 CIDR such as \"10.60.0.0/20\", or null to let Google pick a free /20 in the network."
  type        = string
  default     = null

  validation {
    condition = var.psa_range == null || try(
      cidrhost(var.psa_range, 0) == split("/", var.psa_range)[0] && !strcontains(var.psa_range, ":") &&
      tonumber(split("/", var.psa_range)[1]) >= 8 &&
      tonumber(split("/", var.psa_range)[1]) <= 24,
      false
    )
    error_message = "psa_range must be null or an IPv4 CIDR between /8 and /24 that starts on its network address, such as \"10.60.0.0/20\" (Cloud SQL needs at least a /24; /20 leaves room for more services)."
  }
}

variable "region" {
  description = "Region of the subnet, the router and Cloud NAT, e.g. \"europe-west1\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as \"europe-west1\" (a region, not a zone like \"europe-west1-b\")."
  }
}

variable "subnet" {
  description = "The cluster subnet: its primary range (nodes), and the secondary ranges for pods and services. The ranges must not overlap each other, psa_range or control_plane_cidr."
  type = object({
    cidr = optional(string, "10.10.0.0/20")
    flow_logs = optional(object({
      aggregation_interval = optional(string, "INTERVAL_5_SEC")
      flow_sampling        = optional(number, 0.5)
      metadata             = optional(string, "INCLUDE_ALL_METADATA")
    }), {})
    pods_cidr     = optional(string, "10.20.0.0/16")
    services_cidr = optional(string, "10.30.0.0/20")
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for c in [var.subnet.cidr, var.subnet.pods_cidr, var.subnet.services_cidr] :
      try(cidrhost(c, 0) == split("/", c)[0] && !strcontains(c, ":"), false)
    ])
    error_message = "subnet.cidr, subnet.pods_cidr and subnet.services_cidr must be IPv4 CIDRs that start on their network address, such as \"10.10.0.0/20\", \"10.20.0.0/16\" and \"10.30.0.0/20\"."
  }

  validation {
    condition     = length(distinct([var.subnet.cidr, var.subnet.pods_cidr, var.subnet.services_cidr])) == 3
    error_message = "subnet.cidr, subnet.pods_cidr and subnet.services_cidr must be three different ranges."
  }

  validation {
    condition = contains(
      ["INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"],
      var.subnet.flow_logs.aggregation_interval
    )
    error_message = "subnet.flow_logs.aggregation_interval must be one of INTERVAL_5_SEC, INTERVAL_30_SEC, INTERVAL_1_MIN, INTERVAL_5_MIN, INTERVAL_10_MIN or INTERVAL_15_MIN."
  }

  validation {
    condition     = var.subnet.flow_logs.flow_sampling > 0 && var.subnet.flow_logs.flow_sampling <= 1
    error_message = "subnet.flow_logs.flow_sampling must be above 0 and at most 1 (the share of flows logged; 0.5 logs half)."
  }

  validation {
    condition     = contains(["EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA"], var.subnet.flow_logs.metadata)
    error_message = "subnet.flow_logs.metadata must be INCLUDE_ALL_METADATA or EXCLUDE_ALL_METADATA."
  }
}

variable "webhook_ports" {
  description = "TCP ports on the nodes that the control plane may reach besides GKE's own 443 and 10250: admission webhooks served by pods. 8443 is KFP's cache-server webhook."
  type        = set(string)
  default     = ["8443"]
  nullable    = false

  validation {
    condition = length(var.webhook_ports) > 0 && alltrue([
      for p in var.webhook_ports :
      can(regex("^[0-9]{1,5}$", p)) && try(tonumber(p) >= 1 && tonumber(p) <= 65535, false)
    ])
    error_message = "webhook_ports must hold at least one TCP port number between 1 and 65535, written as a string, e.g. [\"8443\"]."
  }
}
