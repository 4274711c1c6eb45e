terraform {
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }

  # One bootstrap per project, one state per project: the bucket and prefix come from
  # <env>.backend.hcl (terraform init -reconfigure -backend-config=<env>.backend.hcl).
  # The very first run, before the bucket exists, keeps the state in a local file and
  # then migrates it into the bucket (README.md, "First run"; `kfp-gcp infra bootstrap`).
  backend "gcs" {}
}

# Run by a person with Owner on the project, with Application Default Credentials
# (gcloud auth application-default login); no service-account keys. User credentials need
# a quota project for the Billing Budget and Cloud Billing APIs: bill API calls to this one.
provider "google" {
  project               = var.project_id
  billing_project       = var.project_id
  user_project_override = true
}
