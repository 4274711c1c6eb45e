# Private services access: the peering that gives Cloud SQL a private IP in this network.

resource "google_compute_global_address" "psa" {
  project       = var.project_id
  name          = "${var.prefix}-psa"
  description   = "Private services access range (Cloud SQL private IP) of ${var.prefix} (managed by Terraform)."
  network       = google_compute_network.network.id
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  address       = var.psa_range == null ? null : split("/", var.psa_range)[0]
  prefix_length = var.psa_range == null ? 20 : tonumber(split("/", var.psa_range)[1])
  labels        = var.labels
}

resource "google_service_networking_connection" "psa" {
  network                 = google_compute_network.network.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.psa.name]
  # Cloud SQL keeps its side of the peering for days after the instance is deleted, and
  # deleting the connection fails until then: on destroy, Terraform forgets the
  # connection instead (the provider's documented use of ABANDON). The peering stays on
  # the network; the teardown runbook removes it (terraform/README.md).
  deletion_policy = "ABANDON"
  # After such a destroy, Service Networking still knows the old connection, and creating
  # it again (the same network name) fails: update it instead.
  update_on_creation_fail = true
}
