# The prod environment: every setting is in terraform.tfvars.json; the composition is
# modules/platform, shared by all environments.

# billing_project + user_project_override: with a person's credentials (a first apply, a
# destroy), the Billing Budget API needs a quota project; bill it to this project. The CI
# identities hold roles/serviceusage.serviceUsageConsumer on it for the same reason.
provider "google" {
  project               = var.settings.project_id
  region                = var.settings.region
  billing_project       = var.settings.project_id
  user_project_override = true
}

module "platform" {
  source              = "../../modules/platform"
  settings            = var.settings
  schedule_pauses_now = var.schedule_pauses_now
}
