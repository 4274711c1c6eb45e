output "build_bucket" {
  description = "gs:// URL of the Cloud Build bucket (sources under source/, logs under logs/)."
  value       = "gs://${google_storage_bucket.builds.name}"
  depends_on  = [google_storage_bucket_iam_member.builders]
}

output "images" {
  description = "Path of the component images repository, LOCATION-docker.pkg.dev/PROJECT/REPOSITORY (images are <path>/<name>:<tag>)."
  value       = "${var.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  depends_on  = [google_artifact_registry_repository_iam_member.readers, google_artifact_registry_repository_iam_member.writers]
}

output "mirrors" {
  description = "Registry (docker.io, gcr.io, ...) => path of the remote repository that pulls it, for `kfp-gcp manifests render` (docker.io/alpine becomes <path>/library/alpine)."
  value = {
    for key, repo in google_artifact_registry_repository.remote :
    key => "${var.location}-docker.pkg.dev/${var.project_id}/${repo.repository_id}" if repo.format == "DOCKER"
  }
  depends_on = [google_artifact_registry_repository_iam_member.readers]
}

output "pypi" {
  description = "Simple index URL of the PyPI remote repository (pip --index-url, with an access token), or \"\" when pypi is not in remotes."
  value = contains(keys(google_artifact_registry_repository.remote), "pypi") ? (
    "https://${var.location}-python.pkg.dev/${var.project_id}/${google_artifact_registry_repository.remote["pypi"].repository_id}/simple/"
  ) : ""
  depends_on = [google_artifact_registry_repository_iam_member.readers]
}

output "readers" {
  description = "Key => member that may read (pull from) every repository."
  value       = var.readers

  depends_on = [google_artifact_registry_repository_iam_member.readers]
}

output "repositories" {
  description = "Key (images, docker.io, ..., pypi) => repository id (projects/P/locations/L/repositories/R)."
  value       = { for key, repo in local.repositories : key => repo.id }
}
