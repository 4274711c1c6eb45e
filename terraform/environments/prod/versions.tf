terraform {
  required_version = ">= 1.11.0"

  # Bucket and prefix come from backend.hcl: terraform init -backend-config=backend.hcl
  # (kfp-gcp infra plan does it).
  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }
}
