output "endpoint_dns" {
  description = "DNS-based control-plane endpoint (gke-....gke.goog), reachable from outside the VPC with IAM credentials; e.g. gcloud container clusters get-credentials --dns-endpoint."
  value       = google_container_cluster.cluster.control_plane_endpoints_config[0].dns_endpoint_config[0].endpoint
  depends_on  = [google_container_node_pool.nodepool]
}

output "id" {
  description = "ID of the cluster (projects/PROJECT/locations/LOCATION/clusters/NAME)."
  value       = google_container_cluster.cluster.id
  depends_on  = [google_container_node_pool.nodepool]
}

output "location" {
  description = "Location of the cluster (region or zone)."
  value       = google_container_cluster.cluster.location
}

output "name" {
  description = "Name of the cluster, available once its node pools exist."
  value       = google_container_cluster.cluster.name
  depends_on  = [google_container_node_pool.nodepool]
}

output "node_pool_sizes" {
  description = "Per pool: whether the autoscaler sizes it, and its fixed node_count per zone when not (0 while paused; null otherwise)."
  value = {
    for key, pool in google_container_node_pool.nodepool :
    key => { autoscaling = length(pool.autoscaling) > 0, node_count = var.paused ? pool.node_count : null }
  }
}

output "node_pools" {
  description = "Names of the node pools, by key (the key is the name)."
  value       = { for key, pool in google_container_node_pool.nodepool : key => pool.name }
}

output "node_service_account" {
  description = "Email of the nodes' service account, available once its roles are granted."
  value       = google_service_account.nodes.email
  depends_on  = [google_project_iam_member.nodes]
}

output "node_tag" {
  description = "Network tag on every node (\"PREFIX-gke-node\"), targeted by the network module's control-plane webhook firewall rule."
  value       = local.node_tag
}

output "workload_pool" {
  description = "Workload Identity pool (PROJECT.svc.id.goog) for principal and serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA] members."
  value       = google_container_cluster.cluster.workload_identity_config[0].workload_pool
}
