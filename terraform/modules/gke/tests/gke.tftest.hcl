# Offline: google is mocked (see ../shared/tools/tf-offline/README.md).
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email  = "kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"
      member = "serviceAccount:kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"
    }
  }

  # A running pool's size is whatever the autoscaler chose: not 0, so a test can tell the
  # paused pools' configured 0 from a computed value.
  mock_resource "google_container_node_pool" {
    defaults = {
      node_count = 3
    }
  }

  mock_resource "google_container_cluster" {
    defaults = {
      id = "projects/demo-project/locations/europe-west1/clusters/kfp-test-gke"
    }
  }
}

variables {
  project_id = "demo-project"
  prefix     = "kfp-test"
  location   = "europe-west1"
  control_plane = {
    cidr = "172.16.0.0/28"
  }
  vpc_config = {
    network             = "projects/demo-project/global/networks/kfp-test-vpc"
    subnetwork          = "projects/demo-project/regions/europe-west1/subnetworks/kfp-test-gke"
    pods_range_name     = "pods"
    services_range_name = "services"
  }
}

run "defaults" {
  command = plan

  # The email is computed; make it known at plan time to check the pools use it.
  override_resource {
    target          = google_service_account.nodes
    override_during = plan
    values = {
      email  = "kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"
      member = "serviceAccount:kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"
    }
  }

  # --- cluster: identity, network, control plane ---
  assert {
    condition     = google_container_cluster.cluster.name == "kfp-test-gke" && google_container_cluster.cluster.location == "europe-west1"
    error_message = "cluster name must come from prefix and location from var.location"
  }

  assert {
    condition     = google_container_cluster.cluster.deletion_protection == true
    error_message = "deletion_protection must default to true"
  }

  assert {
    condition     = google_container_cluster.cluster.private_cluster_config[0].enable_private_nodes == true
    error_message = "nodes must be private"
  }

  assert {
    condition     = google_container_cluster.cluster.private_cluster_config[0].enable_private_endpoint == true
    error_message = "the IP-based endpoint must have no public address by default"
  }

  assert {
    condition     = google_container_cluster.cluster.private_cluster_config[0].master_ipv4_cidr_block == "172.16.0.0/28"
    error_message = "the control plane must use control_plane.cidr (the network module's firewall source)"
  }

  assert {
    condition     = google_container_cluster.cluster.control_plane_endpoints_config[0].dns_endpoint_config[0].allow_external_traffic == true
    error_message = "the DNS-based endpoint must accept external traffic (CI reaches the API through it)"
  }

  assert {
    condition = (
      length(google_container_cluster.cluster.master_authorized_networks_config) == 1 &&
      length(google_container_cluster.cluster.master_authorized_networks_config[0].cidr_blocks) == 0 &&
      google_container_cluster.cluster.master_authorized_networks_config[0].gcp_public_cidrs_access_enabled == false
    )
    error_message = "authorized networks must be on, empty by default, without Google Cloud's public ranges"
  }

  assert {
    condition     = google_container_cluster.cluster.master_auth[0].client_certificate_config[0].issue_client_certificate == false
    error_message = "client certificates must be off"
  }

  assert {
    condition     = google_container_cluster.cluster.enable_legacy_abac == false
    error_message = "legacy ABAC must be off"
  }

  assert {
    condition     = google_container_cluster.cluster.workload_identity_config[0].workload_pool == "demo-project.svc.id.goog"
    error_message = "Workload Identity must use PROJECT.svc.id.goog"
  }

  assert {
    condition     = output.workload_pool == "demo-project.svc.id.goog"
    error_message = "workload_pool output is wrong"
  }

  assert {
    condition     = google_container_cluster.cluster.networking_mode == "VPC_NATIVE"
    error_message = "the cluster must be VPC-native"
  }

  assert {
    condition = (
      google_container_cluster.cluster.ip_allocation_policy[0].cluster_secondary_range_name == "pods" &&
      google_container_cluster.cluster.ip_allocation_policy[0].services_secondary_range_name == "services"
    )
    error_message = "pods and services must use the subnet's secondary ranges"
  }

  assert {
    condition     = google_container_cluster.cluster.datapath_provider == "ADVANCED_DATAPATH"
    error_message = "Dataplane V2 (ADVANCED_DATAPATH) must be on: it enforces NetworkPolicy"
  }

  assert {
    condition     = google_container_cluster.cluster.enable_shielded_nodes == true
    error_message = "shielded nodes must be on"
  }

  assert {
    condition     = google_container_cluster.cluster.enable_intranode_visibility == true
    error_message = "intranode visibility must be on"
  }

  assert {
    condition     = google_container_cluster.cluster.binary_authorization[0].evaluation_mode == "PROJECT_SINGLETON_POLICY_ENFORCE"
    error_message = "Binary Authorization must enforce the project policy by default"
  }

  assert {
    condition     = google_container_cluster.cluster.release_channel[0].channel == "REGULAR"
    error_message = "release channel must default to REGULAR"
  }

  assert {
    condition = (
      google_container_cluster.cluster.maintenance_policy[0].recurring_window[0].recurrence == "FREQ=WEEKLY;BYDAY=SA,SU" &&
      google_container_cluster.cluster.maintenance_policy[0].recurring_window[0].start_time == "2025-01-04T00:00:00Z"
    )
    error_message = "a recurring maintenance window must be set"
  }

  assert {
    condition = (
      toset(google_container_cluster.cluster.logging_config[0].enable_components) == toset(["SYSTEM_COMPONENTS", "WORKLOADS"]) &&
      toset(google_container_cluster.cluster.monitoring_config[0].enable_components) == toset(["SYSTEM_COMPONENTS", "DEPLOYMENT"]) &&
      google_container_cluster.cluster.monitoring_config[0].managed_prometheus[0].enabled
    )
    error_message = "logging (system + workloads) and monitoring (system, Deployment kube state metrics for the unavailable alert, managed Prometheus) must be on"
  }

  assert {
    condition     = google_container_cluster.cluster.remove_default_node_pool == true && google_container_cluster.cluster.initial_node_count == 1
    error_message = "the default node pool must be removed"
  }

  assert {
    condition     = google_container_cluster.cluster.node_config[0].workload_metadata_config[0].mode == "GKE_METADATA"
    error_message = "even the transient default pool must use the GKE metadata server"
  }

  assert {
    condition     = google_container_cluster.cluster.resource_labels["kfp-gcp-prefix"] == "kfp-test"
    error_message = "the cluster must be labelled"
  }

  # --- node pools ---
  assert {
    condition     = keys(google_container_node_pool.nodepool) == ["cpu", "gpu", "system"]
    error_message = "default pools must be system, cpu and gpu"
  }

  assert {
    condition     = alltrue([for p in google_container_node_pool.nodepool : p.node_config[0].workload_metadata_config[0].mode == "GKE_METADATA"])
    error_message = "every node pool must use GKE_METADATA (Workload Identity)"
  }

  assert {
    condition = alltrue([
      for p in google_container_node_pool.nodepool :
      p.node_config[0].shielded_instance_config[0].enable_secure_boot && p.node_config[0].shielded_instance_config[0].enable_integrity_monitoring
    ])
    error_message = "every node pool must have secure boot and integrity monitoring"
  }

  assert {
    condition     = alltrue([for p in google_container_node_pool.nodepool : p.management[0].auto_repair && p.management[0].auto_upgrade])
    error_message = "every node pool must auto-repair and auto-upgrade"
  }

  assert {
    condition = alltrue([
      for p in google_container_node_pool.nodepool :
      p.node_config[0].service_account == "kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com" &&
      p.node_config[0].oauth_scopes == toset(["https://www.googleapis.com/auth/cloud-platform"])
    ])
    error_message = "every node pool must run as the module's node service account with the cloud-platform scope"
  }

  assert {
    condition     = alltrue([for p in google_container_node_pool.nodepool : contains(p.node_config[0].tags, "kfp-test-gke-node")])
    error_message = "every node must carry the tag the network module's webhook firewall rule targets"
  }

  assert {
    condition = (
      google_container_node_pool.nodepool["gpu"].autoscaling[0].total_min_node_count == 0 &&
      google_container_node_pool.nodepool["gpu"].initial_node_count == 0
    )
    error_message = "the GPU pool must scale from zero"
  }

  assert {
    condition = anytrue([
      for t in google_container_node_pool.nodepool["gpu"].node_config[0].taint :
      t.key == "nvidia.com/gpu" && t.value == "present" && t.effect == "NO_SCHEDULE"
    ])
    error_message = "the GPU pool must carry the nvidia.com/gpu=present:NoSchedule taint"
  }

  assert {
    condition = (
      google_container_node_pool.nodepool["gpu"].node_config[0].guest_accelerator[0].type == "nvidia-tesla-t4" &&
      google_container_node_pool.nodepool["gpu"].node_config[0].guest_accelerator[0].count == 1 &&
      google_container_node_pool.nodepool["gpu"].node_config[0].guest_accelerator[0].gpu_driver_installation_config[0].gpu_driver_version == "DEFAULT"
    )
    error_message = "the GPU pool must have one T4 with GKE-installed drivers"
  }

  assert {
    condition     = length(google_container_node_pool.nodepool["cpu"].node_config[0].taint) == 0 && length(google_container_node_pool.nodepool["cpu"].node_config[0].guest_accelerator) == 0
    error_message = "pools without an accelerator get no GPU taint"
  }

  assert {
    condition = (
      google_container_node_pool.nodepool["gpu"].node_config[0].spot == true &&
      google_container_node_pool.nodepool["cpu"].node_config[0].spot == false &&
      google_container_node_pool.nodepool["system"].node_config[0].spot == false
    )
    error_message = "spot must be honoured per pool (only gpu is spot by default)"
  }

  assert {
    condition = (
      google_container_node_pool.nodepool["system"].autoscaling[0].total_min_node_count == 1 &&
      google_container_node_pool.nodepool["system"].autoscaling[0].total_max_node_count == 2 &&
      google_container_node_pool.nodepool["system"].node_config[0].machine_type == "e2-standard-2"
    )
    error_message = "the system pool must be 1-2 e2-standard-2 nodes"
  }

  assert {
    condition     = alltrue([for p in google_container_node_pool.nodepool : p.node_config[0].image_type == "COS_CONTAINERD"])
    error_message = "nodes must run Container-Optimized OS"
  }

  # --- node service account ---
  assert {
    condition     = google_service_account.nodes.account_id == "kfp-test-gke-nodes"
    error_message = "the node service account must be PREFIX-gke-nodes"
  }

  assert {
    condition = toset([for m in google_project_iam_member.nodes : m.role]) == toset([
      "roles/artifactregistry.reader",
      "roles/autoscaling.metricsWriter",
      "roles/logging.logWriter",
      "roles/monitoring.metricWriter",
      "roles/monitoring.viewer",
      "roles/stackdriver.resourceMetadata.writer",
    ])
    error_message = "the node service account must get exactly its six least-privilege roles"
  }

  assert {
    condition = alltrue([
      for m in google_project_iam_member.nodes :
      !contains(["roles/owner", "roles/editor", "roles/viewer"], m.role)
    ])
    error_message = "no basic roles for the node service account"
  }
}

run "custom_pools_zonal" {
  command = plan

  variables {
    location            = "europe-west4-a"
    release_channel     = "STABLE"
    deletion_protection = false
    control_plane = {
      cidr              = "172.16.0.16/28"
      private_endpoint  = false
      authorized_ranges = { office = "203.0.113.0/24" }
    }
    labels = {
      env = "test"
    }
    node_pools = {
      main = {
        machine_type = "n2-standard-8"
        min_count    = 1
        max_count    = 5
        labels       = { workload = "kfp" }
        taints = {
          dedicated = { value = "kfp", effect = "NO_EXECUTE" }
        }
      }
      l4 = {
        machine_type = "g2-standard-8"
        max_count    = 2
        zones        = ["europe-west4-a", "europe-west4-b"]
        accelerator = {
          type               = "nvidia-l4"
          count              = 1
          gpu_driver_version = "LATEST"
        }
      }
    }
  }

  assert {
    condition     = keys(google_container_node_pool.nodepool) == ["l4", "main"]
    error_message = "node_pools must replace the defaults"
  }

  assert {
    condition     = google_container_cluster.cluster.deletion_protection == false && google_container_cluster.cluster.release_channel[0].channel == "STABLE"
    error_message = "deletion_protection and release_channel must be passed through"
  }

  assert {
    condition = (
      google_container_cluster.cluster.private_cluster_config[0].enable_private_endpoint == false &&
      one(google_container_cluster.cluster.master_authorized_networks_config[0].cidr_blocks).cidr_block == "203.0.113.0/24" &&
      one(google_container_cluster.cluster.master_authorized_networks_config[0].cidr_blocks).display_name == "office"
    )
    error_message = "authorized ranges must be passed to master_authorized_networks_config"
  }

  assert {
    condition     = google_container_node_pool.nodepool["l4"].node_locations == toset(["europe-west4-a", "europe-west4-b"])
    error_message = "zones must become node_locations"
  }

  assert {
    condition     = google_container_node_pool.nodepool["l4"].autoscaling[0].total_min_node_count == 0 && google_container_node_pool.nodepool["l4"].autoscaling[0].location_policy == "ANY"
    error_message = "an accelerator pool defaults to min 0 and takes capacity in any zone"
  }

  assert {
    condition = anytrue([
      for t in google_container_node_pool.nodepool["l4"].node_config[0].taint :
      t.key == "nvidia.com/gpu" && t.value == "present" && t.effect == "NO_SCHEDULE"
    ])
    error_message = "every accelerator pool gets the nvidia.com/gpu taint"
  }

  assert {
    condition = (
      length(google_container_node_pool.nodepool["main"].node_config[0].taint) == 1 &&
      google_container_node_pool.nodepool["main"].node_config[0].taint[0].key == "dedicated" &&
      google_container_node_pool.nodepool["main"].node_config[0].taint[0].effect == "NO_EXECUTE"
    )
    error_message = "taints must be passed through"
  }

  assert {
    condition = (
      google_container_node_pool.nodepool["main"].node_config[0].labels["workload"] == "kfp" &&
      google_container_node_pool.nodepool["main"].node_config[0].resource_labels["env"] == "test" &&
      google_container_cluster.cluster.resource_labels["env"] == "test"
    )
    error_message = "labels must reach the cluster and the nodes"
  }

  assert {
    condition     = google_container_node_pool.nodepool["main"].initial_node_count == 1 && google_container_node_pool.nodepool["main"].autoscaling[0].location_policy == "BALANCED"
    error_message = "a pool with min_count > 0 starts with one node per zone and balances across zones"
  }
}

run "apply_outputs" {
  assert {
    condition     = output.node_service_account == "kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"
    error_message = "node_service_account output is ${output.node_service_account}"
  }

  assert {
    condition     = output.node_pools == { cpu = "cpu", gpu = "gpu", system = "system" }
    error_message = "node_pools output must map keys to pool names"
  }

  assert {
    condition     = output.name == "kfp-test-gke" && output.location == "europe-west1"
    error_message = "name and location outputs are wrong"
  }

  assert {
    condition     = provider::google::project_from_id(output.id) == "demo-project"
    error_message = "id output is ${output.id}"
  }

  assert {
    condition     = output.endpoint_dns != null && output.endpoint_dns != ""
    error_message = "endpoint_dns must be set after apply"
  }

  assert {
    condition     = output.node_tag == "kfp-test-gke-node"
    error_message = "node_tag must be PREFIX-gke-node (the network module's firewall target)"
  }

  assert {
    condition     = alltrue([for m in google_project_iam_member.nodes : m.member == "serviceAccount:kfp-test-gke-nodes@demo-project.iam.gserviceaccount.com"])
    error_message = "roles must be granted to the node service account"
  }
}

# Paused: every pool, with an accelerator or not, at a fixed size of 0 and without the
# autoscaler, so the state says nothing runs; the cluster itself stays.
run "paused" {
  command = plan

  variables {
    paused = true
  }

  assert {
    condition = alltrue([
      for name, pool in google_container_node_pool.nodepool :
      pool.node_count == 0 && length(pool.autoscaling) == 0
    ])
    error_message = "paused: every node pool must have node_count 0 and no autoscaling block"
  }

  assert {
    condition     = length(google_container_node_pool.nodepool) == 3
    error_message = "paused: the pools must stay (only their size changes)"
  }

  assert {
    condition     = google_container_cluster.cluster.name == "kfp-test-gke"
    error_message = "paused: the cluster stays"
  }
}

run "resumed" {
  command = plan

  variables {
    paused = false
  }

  assert {
    condition = alltrue([
      for name, pool in google_container_node_pool.nodepool :
      length(pool.autoscaling) == 1
    ]) && google_container_node_pool.nodepool["system"].autoscaling[0].total_min_node_count == 1
    error_message = "running: every pool is sized by its autoscaler again (system at least 1 node)"
  }
}

# CI acts as the node service account through a binding on that account alone, never
# through roles/iam.serviceAccountUser on the project.
run "node_service_account_users" {
  command = plan

  variables {
    node_service_account_users = ["serviceAccount:kfp-ci-apply@demo-project.iam.gserviceaccount.com"]
  }

  assert {
    condition = (
      length(google_service_account_iam_member.node_users) == 1 &&
      one(values(google_service_account_iam_member.node_users)).service_account_id == google_service_account.nodes.name &&
      one(values(google_service_account_iam_member.node_users)).role == "roles/iam.serviceAccountUser" &&
      one(values(google_service_account_iam_member.node_users)).member == "serviceAccount:kfp-ci-apply@demo-project.iam.gserviceaccount.com"
    )
    error_message = "the CI identity must be serviceAccountUser on the node service account only"
  }

  assert {
    condition     = !contains([for m in google_project_iam_member.nodes : m.role], "roles/iam.serviceAccountUser")
    error_message = "no project-wide serviceAccountUser"
  }
}

run "no_node_service_account_users_by_default" {
  command = plan

  assert {
    condition     = length(google_service_account_iam_member.node_users) == 0
    error_message = "nobody but the project's owners may act as the node service account unless listed"
  }
}

run "rejects_node_user_without_member_prefix" {
  command = plan

  variables {
    node_service_account_users = ["kfp-ci-apply@demo-project.iam.gserviceaccount.com"]
  }

  expect_failures = [var.node_service_account_users]
}

# --- validations ---

run "bad_prefix" {
  command = plan

  variables {
    prefix = "1kfp"
  }

  expect_failures = [var.prefix]
}

run "bad_location" {
  command = plan

  variables {
    location = "europe"
  }

  expect_failures = [var.location]
}

run "gpu_pool_min_above_zero" {
  command = plan

  variables {
    node_pools = {
      gpu = {
        machine_type = "n1-standard-4"
        min_count    = 1
        max_count    = 2
        accelerator  = { type = "nvidia-tesla-t4" }
      }
    }
  }

  expect_failures = [var.node_pools]
}

run "bad_gpu_driver_version" {
  command = plan

  variables {
    node_pools = {
      gpu = {
        machine_type = "n1-standard-4"
        accelerator  = { type = "nvidia-tesla-t4", gpu_driver_version = "NEWEST" }
      }
    }
  }

  expect_failures = [var.node_pools]
}

run "gpu_machine_mismatch" {
  command = plan

  variables {
    node_pools = {
      gpu = {
        machine_type = "e2-standard-4"
        accelerator  = { type = "nvidia-tesla-t4" }
      }
    }
  }

  expect_failures = [var.node_pools]
}

run "min_above_max" {
  command = plan

  variables {
    node_pools = {
      cpu = { min_count = 3, max_count = 2 }
    }
  }

  expect_failures = [var.node_pools]
}

run "bad_taint_effect" {
  command = plan

  variables {
    node_pools = {
      cpu = {
        taints = { dedicated = { value = "kfp", effect = "NoSchedule" } }
      }
    }
  }

  expect_failures = [var.node_pools]
}

run "zone_outside_region" {
  command = plan

  variables {
    node_pools = {
      cpu = { zones = ["us-central1-a"] }
    }
  }

  expect_failures = [var.node_pools]
}

run "bad_pool_name" {
  command = plan

  variables {
    node_pools = {
      GPU_pool = {}
    }
  }

  expect_failures = [var.node_pools]
}

run "bad_release_channel" {
  command = plan

  variables {
    release_channel = "regular"
  }

  expect_failures = [var.release_channel]
}

run "control_plane_cidr_must_be_28" {
  command = plan

  variables {
    control_plane = {
      cidr = "172.16.0.0/24"
    }
  }

  expect_failures = [var.control_plane]
}

run "authorized_range_open_to_all" {
  command = plan

  variables {
    control_plane = {
      cidr              = "172.16.0.0/28"
      authorized_ranges = { anywhere = "0.0.0.0/0" }
    }
  }

  expect_failures = [var.control_plane]
}

run "maintenance_window_too_short" {
  command = plan

  variables {
    maintenance_window = {
      start_time = "2025-01-04T00:00:00Z"
      end_time   = "2025-01-04T02:00:00Z"
    }
  }

  expect_failures = [var.maintenance_window]
}

run "bad_maintenance_recurrence" {
  command = plan

  variables {
    maintenance_window = {
      recurrence = "every saturday"
    }
  }

  expect_failures = [var.maintenance_window]
}
