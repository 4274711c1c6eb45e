variable "settings" {
  description = "The environment's settings (terraform.tfvars.json); typed and validated by modules/platform."
  type        = any
  nullable    = false
}
