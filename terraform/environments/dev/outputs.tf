output "platform" {
  description = "The outputs contract: docs/infra-outputs.md."
  value       = module.platform.platform
}
