output "platform" {
  description = "The validated contract, unchanged."
  value       = var.platform
}
