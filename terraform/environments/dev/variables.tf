variable "settings" {
  description = "The environment's settings (terraform.tfvars.json); typed and validated by modules/platform."
  type        = any
  nullable    = false
}

variable "schedule_pauses_now" {
  description = "Set by `kfp-gcp infra plan` (-var) from settings.schedule and the clock; never in terraform.tfvars.json."
  type        = bool
  default     = false
  nullable    = false
}
