locals {
  # Names of the subnet's secondary ranges, handed to the gke module.
  pods_range_name     = "pods"
  services_range_name = "services"
  # Network tag that the gke module puts on every node ("${prefix}-gke-node"), and that the
  # control-plane firewall rule targets. Both modules derive it from the same prefix.
  node_tag = "${var.prefix}-gke-node"

  # Every IPv4 range the platform uses in this network, as integer bounds, to catch overlaps
  # at plan time instead of at apply (or, for the control plane, at cluster creation).
  _ranges = {
    for name, cidr in {
      "control_plane_cidr"   = var.control_plane_cidr
      "psa_range"            = var.psa_range
      "subnet.cidr"          = var.subnet.cidr
      "subnet.pods_cidr"     = var.subnet.pods_cidr
      "subnet.services_cidr" = var.subnet.services_cidr
    } :
    name => {
      first = sum([for i, octet in split(".", split("/", cidr)[0]) : tonumber(octet) * pow(256, 3 - i)])
      size  = pow(2, 32 - tonumber(split("/", cidr)[1]))
    } if try(cidrhost(cidr, 0), null) != null
  }
  _range_names = keys(local._ranges)
  range_overlaps = flatten([
    for i, a in local._range_names : [
      for b in slice(local._range_names, i + 1, length(local._range_names)) :
      "${a} and ${b}"
      if local._ranges[a].first < local._ranges[b].first + local._ranges[b].size && local._ranges[b].first < local._ranges[a].first + local._ranges[a].size
    ]
  ])
}

resource "google_compute_network" "network" {
  project                 = var.project_id
  name                    = "${var.prefix}-vpc"
  description             = "Network of the ${var.prefix} Kubeflow Pipelines platform (managed by Terraform)."
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "subnet" {
  project                  = var.project_id
  name                     = "${var.prefix}-gke"
  description              = "Nodes, pods and services of the ${var.prefix} GKE cluster (managed by Terraform)."
  region                   = var.region
  network                  = google_compute_network.network.id
  ip_cidr_range            = var.subnet.cidr
  stack_type               = "IPV4_ONLY"
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = local.pods_range_name
    ip_cidr_range = var.subnet.pods_cidr
  }

  secondary_ip_range {
    range_name    = local.services_range_name
    ip_cidr_range = var.subnet.services_cidr
  }

  lifecycle {
    precondition {
      condition     = length(local.range_overlaps) == 0
      error_message = "These ranges overlap: ${join(", ", local.range_overlaps)}. Give subnet.cidr, subnet.pods_cidr, subnet.services_cidr, psa_range and control_plane_cidr disjoint ranges."
    }
  }

  log_config {
    aggregation_interval = var.subnet.flow_logs.aggregation_interval
    flow_sampling        = var.subnet.flow_logs.flow_sampling
    metadata             = var.subnet.flow_logs.metadata
  }
}
