terraform {
  # Write-only arguments (password_wo, secret_data_wo) need Terraform 1.11.
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    # The ephemeral random_password resource appeared in hashicorp/random 3.7.0; 3.7.2 is
    # the version checked offline.
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}
