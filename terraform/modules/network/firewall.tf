# A private cluster's control plane may reach the nodes only on 443 and 10250 (GKE's own
# rule). Admission webhooks served by pods on other ports, such as KFP's cache-server on 8443,
# need this rule, or the API server cannot call them (the cache webhook then fails open).

resource "google_compute_firewall" "control_plane_webhooks" {
  project     = var.project_id
  name        = "${var.prefix}-allow-control-plane-webhooks"
  description = "Lets the GKE control plane of ${var.prefix} call admission webhooks on the nodes (managed by Terraform)."
  network     = google_compute_network.network.id
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = [var.control_plane_cidr]
  target_tags   = [local.node_tag]

  allow {
    protocol = "tcp"
    ports    = sort(tolist(var.webhook_ports))
  }
}
