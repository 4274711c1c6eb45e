output "nat_name" {
  description = "Name of the Cloud NAT gateway."
  value       = google_compute_router_nat.nat.name
}

output "network_id" {
  description = "ID of the VPC network (projects/PROJECT/global/networks/NAME)."
  value       = google_compute_network.network.id
}

output "network_name" {
  description = "Name of the VPC network."
  value       = google_compute_network.network.name
}

output "network_self_link" {
  description = "Self link of the VPC network."
  value       = google_compute_network.network.self_link
}

output "node_tag" {
  description = "Network tag the control-plane firewall rule targets; the gke module puts the same tag (\"PREFIX-gke-node\") on every node."
  value       = local.node_tag
}

output "pods_range_name" {
  description = "Name of the subnet's secondary range for pods (the gke module's vpc_config.pods_range_name)."
  value       = local.pods_range_name
}

output "psa_connection" {
  description = "ID of the private services access connection. Make Cloud SQL depend on it: a private IP needs the peering."
  value       = google_service_networking_connection.psa.id
}

output "psa_range" {
  description = "The private services access range as a CIDR (known after apply when Google picks the range)."
  value       = "${google_compute_global_address.psa.address}/${google_compute_global_address.psa.prefix_length}"
}

output "psa_range_name" {
  description = "Name of the private services access range (Cloud SQL's allocated_ip_range)."
  value       = google_compute_global_address.psa.name
}

output "router_name" {
  description = "Name of the Cloud Router that carries Cloud NAT."
  value       = google_compute_router.router.name
}

output "services_range_name" {
  description = "Name of the subnet's secondary range for services (the gke module's vpc_config.services_range_name)."
  value       = local.services_range_name
}

output "subnet_id" {
  description = "ID of the cluster subnet (projects/PROJECT/regions/REGION/subnetworks/NAME)."
  value       = google_compute_subnetwork.subnet.id
}

output "subnet_name" {
  description = "Name of the cluster subnet."
  value       = google_compute_subnetwork.subnet.name
}

output "subnet_self_link" {
  description = "Self link of the cluster subnet."
  value       = google_compute_subnetwork.subnet.self_link
}
