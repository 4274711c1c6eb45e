locals {
  # The taint GKE puts on GPU nodes, set explicitly so that only pods that tolerate it (KFP
  # tasks that request nvidia.com/gpu) land there.
  gpu_taint = {
    "nvidia.com/gpu" = { value = "present", effect = "NO_SCHEDULE" }
  }
}

resource "google_container_node_pool" "nodepool" {
  for_each = var.node_pools

  project  = var.project_id
  name     = each.key
  cluster  = google_container_cluster.cluster.name
  location = google_container_cluster.cluster.location

  node_locations = each.value.zones

  # initial_node_count is per zone and forces a new pool when changed: start pools that must
  # run something with one node per zone and let the autoscaler take over.
  initial_node_count = each.value.min_count > 0 ? 1 : 0

  # Paused: no autoscaler and a fixed size of 0 in every zone, so the state says what runs
  # (nothing); resuming puts the autoscaler back, and pending pods bring the nodes.
  node_count = var.paused ? 0 : null

  dynamic "autoscaling" {
    for_each = var.paused ? [] : [each.value]
    content {
      total_min_node_count = autoscaling.value.min_count
      total_max_node_count = autoscaling.value.max_count
      # Spot and GPU capacity is patchy: take it in whichever zone has it.
      location_policy = autoscaling.value.spot || autoscaling.value.accelerator != null ? "ANY" : "BALANCED"
    }
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = each.value.machine_type
    disk_size_gb    = each.value.disk_size_gb
    disk_type       = each.value.disk_type
    image_type      = "COS_CONTAINERD"
    spot            = each.value.spot
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = each.value.labels
    resource_labels = local.labels
    tags            = [local.node_tag]
    metadata = {
      disable-legacy-endpoints = "true"
    }

    dynamic "guest_accelerator" {
      for_each = each.value.accelerator == null ? [] : [each.value.accelerator]
      content {
        type  = guest_accelerator.value.type
        count = guest_accelerator.value.count

        gpu_driver_installation_config {
          gpu_driver_version = guest_accelerator.value.gpu_driver_version
        }
      }
    }

    dynamic "taint" {
      for_each = merge(each.value.taints, each.value.accelerator == null ? {} : local.gpu_taint)
      content {
        key    = taint.key
        value  = taint.value.value
        effect = taint.value.effect
      }
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  lifecycle {
    ignore_changes = [initial_node_count]
  }

  # Nodes pull images and write logs with these roles from their first minute; CI may act
  # as the node service account before it creates a pool.
  depends_on = [google_project_iam_member.nodes, google_service_account_iam_member.node_users]
}
