# Offline: google is mocked (see ../shared/tools/tf-offline/README.md).
mock_provider "google" {
  mock_resource "google_compute_network" {
    defaults = {
      id        = "projects/demo-project/global/networks/kfp-test-vpc"
      self_link = "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/kfp-test-vpc"
    }
  }

  mock_resource "google_compute_subnetwork" {
    defaults = {
      id        = "projects/demo-project/regions/europe-west1/subnetworks/kfp-test-gke"
      self_link = "https://www.googleapis.com/compute/v1/projects/demo-project/regions/europe-west1/subnetworks/kfp-test-gke"
    }
  }
}

variables {
  project_id         = "demo-project"
  prefix             = "kfp-test"
  region             = "europe-west1"
  control_plane_cidr = "172.16.0.0/28"
}

run "defaults" {
  command = plan

  assert {
    condition     = google_compute_network.network.auto_create_subnetworks == false
    error_message = "the VPC must be custom-mode (no auto subnets)"
  }

  assert {
    condition     = google_compute_network.network.name == "kfp-test-vpc"
    error_message = "network name must come from prefix, got ${google_compute_network.network.name}"
  }

  assert {
    condition     = google_compute_subnetwork.subnet.private_ip_google_access == true
    error_message = "Private Google Access must be on: private nodes reach Google APIs through it"
  }

  assert {
    condition = {
      for r in google_compute_subnetwork.subnet.secondary_ip_range : r.range_name => r.ip_cidr_range
      } == {
      pods     = "10.20.0.0/16"
      services = "10.30.0.0/20"
    }
    error_message = "the subnet must carry the pods and services secondary ranges"
  }

  assert {
    condition     = output.pods_range_name == "pods" && output.services_range_name == "services"
    error_message = "range-name outputs must name the subnet's secondary ranges"
  }

  assert {
    condition     = length(google_compute_subnetwork.subnet.log_config) == 1 && google_compute_subnetwork.subnet.log_config[0].metadata == "INCLUDE_ALL_METADATA"
    error_message = "VPC flow logs must be on for the subnet"
  }

  assert {
    condition     = google_compute_router_nat.nat.log_config[0].enable && google_compute_router_nat.nat.log_config[0].filter == "ERRORS_ONLY"
    error_message = "Cloud NAT must log errors"
  }

  assert {
    condition     = google_compute_router_nat.nat.source_subnetwork_ip_ranges_to_nat == "LIST_OF_SUBNETWORKS" && length(google_compute_router_nat.nat.subnetwork) == 1
    error_message = "Cloud NAT must serve exactly the cluster subnet"
  }

  assert {
    condition     = google_compute_router_nat.nat.enable_dynamic_port_allocation && google_compute_router_nat.nat.min_ports_per_vm == 64 && google_compute_router_nat.nat.max_ports_per_vm == 4096
    error_message = "Cloud NAT must allocate ports dynamically between 64 and 4096 by default"
  }

  assert {
    condition     = google_compute_global_address.psa.purpose == "VPC_PEERING" && google_compute_global_address.psa.address_type == "INTERNAL"
    error_message = "the private services access range must be an internal VPC_PEERING range"
  }

  assert {
    condition     = google_compute_global_address.psa.prefix_length == 20
    error_message = "with psa_range = null Google picks a /20"
  }

  assert {
    condition     = google_service_networking_connection.psa.service == "servicenetworking.googleapis.com"
    error_message = "private services access must peer with servicenetworking.googleapis.com"
  }

  assert {
    condition     = tolist(google_service_networking_connection.psa.reserved_peering_ranges) == tolist(["kfp-test-psa"])
    error_message = "the peering must reserve the module's range"
  }

  assert {
    condition     = google_service_networking_connection.psa.deletion_policy == "ABANDON" && google_service_networking_connection.psa.update_on_creation_fail == true
    error_message = "destroy must forget the private services access connection (Cloud SQL holds it for days after the instance is gone), and a later create must update the connection Service Networking still knows"
  }

  assert {
    condition     = google_compute_firewall.control_plane_webhooks.source_ranges == toset(["172.16.0.0/28"])
    error_message = "only the control plane CIDR may reach the webhook ports"
  }

  assert {
    condition     = google_compute_firewall.control_plane_webhooks.direction == "INGRESS" && google_compute_firewall.control_plane_webhooks.target_tags == toset(["kfp-test-gke-node"])
    error_message = "the webhook rule must be an ingress rule targeting the nodes' tag"
  }

  assert {
    condition = (
      length(google_compute_firewall.control_plane_webhooks.allow) == 1 &&
      one(google_compute_firewall.control_plane_webhooks.allow).protocol == "tcp" &&
      tolist(one(google_compute_firewall.control_plane_webhooks.allow).ports) == tolist(["8443"])
    )
    error_message = "the webhook rule must open TCP 8443 (KFP cache-server) and nothing else"
  }

  assert {
    condition     = output.node_tag == "kfp-test-gke-node"
    error_message = "node_tag must be PREFIX-gke-node, the tag the gke module sets"
  }
}

run "explicit_ranges" {
  command = plan

  variables {
    psa_range = "10.60.0.0/20"
    subnet = {
      cidr          = "10.0.0.0/22"
      pods_cidr     = "10.4.0.0/14"
      services_cidr = "10.8.0.0/20"
      flow_logs = {
        aggregation_interval = "INTERVAL_1_MIN"
        flow_sampling        = 0.1
      }
    }
    nat = {
      log_filter = "ALL"
    }
    labels = {
      env = "test"
    }
  }

  assert {
    condition     = google_compute_global_address.psa.address == "10.60.0.0" && google_compute_global_address.psa.prefix_length == 20
    error_message = "psa_range must set the reserved address and prefix length"
  }

  assert {
    condition     = google_compute_subnetwork.subnet.ip_cidr_range == "10.0.0.0/22"
    error_message = "subnet.cidr must be the primary range"
  }

  assert {
    condition     = google_compute_subnetwork.subnet.log_config[0].flow_sampling == 0.1 && google_compute_subnetwork.subnet.log_config[0].aggregation_interval == "INTERVAL_1_MIN"
    error_message = "flow log settings must be passed through"
  }

  assert {
    condition     = google_compute_router_nat.nat.log_config[0].filter == "ALL"
    error_message = "nat.log_filter must be passed through"
  }

  assert {
    condition     = google_compute_global_address.psa.labels == tomap({ env = "test" })
    error_message = "labels must reach the labelled resources"
  }
}

run "apply_outputs" {
  assert {
    condition     = output.network_id == "projects/demo-project/global/networks/kfp-test-vpc"
    error_message = "network_id output is ${output.network_id}"
  }

  assert {
    condition     = output.subnet_name == "kfp-test-gke" && output.router_name == "kfp-test-router" && output.nat_name == "kfp-test-nat"
    error_message = "names must come from prefix"
  }

  assert {
    condition     = output.psa_connection != null && output.psa_connection != ""
    error_message = "psa_connection must be set after apply"
  }
}

run "bad_prefix" {
  command = plan

  variables {
    prefix = "Kfp_Test"
  }

  expect_failures = [var.prefix]
}

run "bad_region" {
  command = plan

  variables {
    region = "europe-west1-b"
  }

  expect_failures = [var.region]
}

run "bad_subnet_cidr" {
  command = plan

  variables {
    subnet = {
      cidr = "10.10.0.1/20"
    }
  }

  expect_failures = [var.subnet]
}

run "subnet_cidr_not_a_cidr" {
  command = plan

  variables {
    subnet = {
      pods_cidr = "pods"
    }
  }

  expect_failures = [var.subnet]
}

run "control_plane_cidr_must_be_28" {
  command = plan

  variables {
    control_plane_cidr = "172.16.0.0/24"
  }

  expect_failures = [var.control_plane_cidr]
}

run "bad_psa_range" {
  command = plan

  variables {
    psa_range = "10.60.0.0/28"
  }

  expect_failures = [var.psa_range]
}

run "bad_webhook_port" {
  command = plan

  variables {
    webhook_ports = ["70000"]
  }

  expect_failures = [var.webhook_ports]
}

run "bad_nat_ports" {
  command = plan

  variables {
    nat = {
      min_ports_per_vm = 100
    }
  }

  expect_failures = [var.nat]
}

run "overlapping_ranges" {
  command = plan

  variables {
    psa_range = "10.20.128.0/20" # inside the default pods range 10.20.0.0/16
  }

  expect_failures = [google_compute_subnetwork.subnet]
}

run "control_plane_inside_subnet" {
  command = plan

  variables {
    control_plane_cidr = "10.10.0.16/28" # inside the default subnet 10.10.0.0/20
  }

  expect_failures = [google_compute_subnetwork.subnet]
}
