# Outbound internet for the private nodes: images from ghcr.io, quay.io, docker.io and gcr.io,
# and whatever the pipelines' components download.

resource "google_compute_router" "router" {
  project = var.project_id
  name    = "${var.prefix}-router"
  region  = var.region
  network = google_compute_network.network.id
}

resource "google_compute_router_nat" "nat" {
  project                             = var.project_id
  name                                = "${var.prefix}-nat"
  region                              = var.region
  router                              = google_compute_router.router.name
  nat_ip_allocate_option              = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat  = "LIST_OF_SUBNETWORKS"
  enable_dynamic_port_allocation      = true
  enable_endpoint_independent_mapping = false
  min_ports_per_vm                    = var.nat.min_ports_per_vm
  max_ports_per_vm                    = var.nat.max_ports_per_vm

  subnetwork {
    name                    = google_compute_subnetwork.subnet.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = var.nat.log_filter
  }
}
