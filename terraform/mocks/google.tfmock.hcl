# Realistic values for the computed attributes that modules validate or parse; the
# mock provider would otherwise invent random strings. Used by every environment's tests.

mock_resource "google_compute_network" {
  defaults = {
    id        = "projects/acme-ml/global/networks/kfp-vpc"
    self_link = "https://www.googleapis.com/compute/v1/projects/acme-ml/global/networks/kfp-vpc"
  }
}

mock_resource "google_compute_subnetwork" {
  defaults = {
    id        = "projects/acme-ml/regions/europe-west1/subnetworks/kfp-nodes"
    self_link = "https://www.googleapis.com/compute/v1/projects/acme-ml/regions/europe-west1/subnetworks/kfp-nodes"
  }
}

mock_resource "google_service_account" {
  defaults = {
    email = "mock-sa@acme-ml.iam.gserviceaccount.com"
  }
}

mock_resource "google_monitoring_notification_channel" {
  defaults = {
    id = "projects/acme-ml/notificationChannels/1234567890"
  }
}

# A running pool's size is whatever the autoscaler chose (not 0), so tests can tell a
# paused pool's configured 0 from a computed value.
mock_resource "google_container_node_pool" {
  defaults = {
    node_count = 3
  }
}
