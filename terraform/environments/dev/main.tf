# The dev environment: every setting is in terraform.tfvars.json; the composition is
# modules/platform, shared by all environments.

provider "google" {
  project = var.settings.project_id
  region  = var.settings.region
}

module "platform" {
  source   = "../../modules/platform"
  settings = var.settings
}
