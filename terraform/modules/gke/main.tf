locals {
  # Every node carries this network tag; the network module's control-plane webhook firewall
  # rule targets the same "${prefix}-gke-node".
  labels        = merge({ kfp-gcp-prefix = var.prefix }, var.labels)
  node_tag      = "${var.prefix}-gke-node"
  workload_pool = "${var.project_id}.svc.id.goog"
}

resource "google_container_cluster" "cluster" {
  # checkov:skip=CKV_GCP_24:PodSecurityPolicy was removed in Kubernetes 1.25; Pod Security Admission replaces it and is configured per namespace.
  # checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Google Workspace or Cloud Identity domain (gke-security-groups@DOMAIN) that a platform template cannot assume; RBAC binds users and service accounts directly.
  project     = var.project_id
  name        = "${var.prefix}-gke"
  description = "Kubeflow Pipelines cluster of ${var.prefix} (managed by Terraform)."
  location    = var.location

  deletion_protection = var.deletion_protection
  resource_labels     = local.labels

  # The default node pool is removed right after creation; the pools live in nodepool.tf.
  # Its node_config still matters for those minutes: dedicated service account, metadata
  # server and shielded boot, never the Compute Engine default service account.
  remove_default_node_pool = true
  initial_node_count       = 1

  node_config {
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    image_type      = "COS_CONTAINERD"
    machine_type    = "e2-standard-2"
    disk_type       = "pd-balanced"
    disk_size_gb    = 50
    tags            = [local.node_tag]
    resource_labels = local.labels
    metadata = {
      disable-legacy-endpoints = "true"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  release_channel {
    channel = var.release_channel
  }

  # Network: VPC-native on the network module's subnet, private nodes, Dataplane V2.
  network           = var.vpc_config.network
  subnetwork        = var.vpc_config.subnetwork
  networking_mode   = "VPC_NATIVE"
  datapath_provider = "ADVANCED_DATAPATH"

  ip_allocation_policy {
    cluster_secondary_range_name  = var.vpc_config.pods_range_name
    services_secondary_range_name = var.vpc_config.services_range_name
    stack_type                    = "IPV4"
  }

  # Dataplane V2 enforces NetworkPolicy itself; the Calico add-on stays off.
  network_policy {
    enabled = false
  }

  enable_intranode_visibility = true

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = var.control_plane.private_endpoint
    master_ipv4_cidr_block  = var.control_plane.cidr
  }

  # CI and people reach the API through the DNS-based endpoint, authorised by IAM
  # (container.clusters.connect), so the IP-based endpoint needs no public authorized networks.
  control_plane_endpoints_config {
    dns_endpoint_config {
      allow_external_traffic = var.control_plane.dns_allow_external_traffic
    }
  }

  master_authorized_networks_config {
    gcp_public_cidrs_access_enabled = false

    dynamic "cidr_blocks" {
      for_each = var.control_plane.authorized_ranges
      content {
        display_name = cidr_blocks.key
        cidr_block   = cidr_blocks.value
      }
    }
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  enable_legacy_abac    = false
  enable_shielded_nodes = true

  workload_identity_config {
    workload_pool = local.workload_pool
  }

  binary_authorization {
    evaluation_mode = var.binary_authorization ? "PROJECT_SINGLETON_POLICY_ENFORCE" : "DISABLED"
  }

  addons_config {
    http_load_balancing {
      disabled = false # GCE Ingress for the KFP UI behind IAP
    }
    horizontal_pod_autoscaling {
      disabled = false
    }
    gce_persistent_disk_csi_driver_config {
      enabled = true
    }
  }

  logging_config {
    enable_components = ["SYSTEM_COMPONENTS", "WORKLOADS"]
  }

  monitoring_config {
    # DEPLOYMENT: kube state metrics of Deployments (desired and available replicas), which
    # the monitoring module's "KFP unavailable" alert reads; billed as Managed Prometheus samples.
    enable_components = ["SYSTEM_COMPONENTS", "DEPLOYMENT"]

    # Workload metrics come through Google Cloud Managed Service for Prometheus.
    managed_prometheus {
      enabled = true
    }
  }

  maintenance_policy {
    recurring_window {
      start_time = var.maintenance_window.start_time
      end_time   = var.maintenance_window.end_time
      recurrence = var.maintenance_window.recurrence
    }
  }

  cost_management_config {
    enabled = true
  }

  lifecycle {
    # node_config only shapes the default pool, which is gone after creation; GKE reports
    # drift on it afterwards, and a change would replace the cluster.
    ignore_changes = [node_config, initial_node_count]
  }

  depends_on = [google_project_iam_member.nodes, google_service_account_iam_member.node_users]
}
