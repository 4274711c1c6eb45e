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
