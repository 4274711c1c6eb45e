terraform {
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 8"
    }
  }

  # State starts local (terraform.tfstate here, git-ignored). After the first apply, move it
  # into the bucket this root creates: uncomment, fill in the state_bucket output, and run
  # `terraform init -migrate-state` (README.md, "Move the state into the bucket").
  #
  # backend "gcs" {
  #   bucket = "<state_bucket output>"
  #   prefix = "bootstrap"
  # }
}

# Run by a person with Owner on the project, with Application Default Credentials
# (gcloud auth application-default login); no service-account keys.
provider "google" {
  project = var.project_id
}
