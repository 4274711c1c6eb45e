output "name" {
  description = "Name of the artifact bucket."
  value       = google_storage_bucket.bucket.name
}

output "pipeline_root" {
  description = "KFP's default pipeline root, gs://<bucket>/<pipeline_root_path> (kfp-launcher defaultPipelineRoot)."
  value       = "gs://${google_storage_bucket.bucket.name}/${var.pipeline_root_path}"
}

output "self_link" {
  description = "self_link of the bucket."
  value       = google_storage_bucket.bucket.self_link
}

output "url" {
  description = "gs:// URL of the bucket."
  value       = "gs://${google_storage_bucket.bucket.name}"
}
