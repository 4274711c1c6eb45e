# The team's component images (kfp-gcp images push), and remote repositories that pull the
# public images and packages through Artifact Registry, so private nodes need Cloud NAT
# only for what is left.

locals {
  # Remote repositories by the registry they pull, with the upstream Artifact Registry
  # accepts for each (a preset for Docker Hub and PyPI, a custom URI otherwise).
  remote_catalog = {
    "docker.io"       = { id = "docker-hub", format = "DOCKER", preset = "DOCKER_HUB", uri = null }
    "gcr.io"          = { id = "gcr", format = "DOCKER", preset = null, uri = "https://gcr.io" }
    "ghcr.io"         = { id = "ghcr", format = "DOCKER", preset = null, uri = "https://ghcr.io" }
    "quay.io"         = { id = "quay", format = "DOCKER", preset = null, uri = "https://quay.io" }
    "registry.k8s.io" = { id = "registry-k8s", format = "DOCKER", preset = null, uri = "https://registry.k8s.io" }
    "pypi"            = { id = "pypi", format = "PYTHON", preset = "PYPI", uri = null }
  }
  remotes = { for key in var.remotes : key => local.remote_catalog[key] }

  day = 86400
  repositories = merge(
    { images = google_artifact_registry_repository.images },
    { for key, repo in google_artifact_registry_repository.remote : key => repo },
  )
  reader_grants = {
    for pair in setproduct(keys(local.repositories), keys(var.readers)) :
    "${pair[0]}/${pair[1]}" => { repository = pair[0], member = var.readers[pair[1]] }
  }
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption; a customer-managed key would add a KMS key ring, rotation and its IAM that nothing else in the platform needs (the artifact bucket and Cloud SQL use Google-managed keys too)
  project       = var.project_id
  location      = var.location
  repository_id = "${var.prefix}-images"
  format        = "DOCKER"
  mode          = "STANDARD_REPOSITORY"
  description   = "Component images built from images/<name>/ by kfp-gcp images push; tags are content hashes (managed by Terraform)."
  labels        = var.labels

  # A tag names the hash of its build context: it must never point at other bytes.
  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = var.cleanup.dry_run

  # KEEP wins over DELETE: the newest versions of each image stay, whatever their age.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.cleanup.keep_recent
    }
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "${var.cleanup.untagged_after_days * local.day}s"
    }
  }

  dynamic "cleanup_policies" {
    for_each = var.cleanup.delete_after_days == 0 ? [] : [var.cleanup.delete_after_days]
    content {
      id     = "delete-old"
      action = "DELETE"
      condition {
        tag_state  = "ANY"
        older_than = "${cleanup_policies.value * local.day}s"
      }
    }
  }
}

resource "google_artifact_registry_repository" "remote" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption, as for the images repository; a remote repository only caches public content
  for_each = local.remotes

  project       = var.project_id
  location      = var.location
  repository_id = "${var.prefix}-${each.value.id}"
  format        = each.value.format
  mode          = "REMOTE_REPOSITORY"
  description   = "Pull-through cache of ${each.key} for the cluster (managed by Terraform)."
  labels        = var.labels

  remote_repository_config {
    description = each.key

    dynamic "docker_repository" {
      for_each = each.value.format == "DOCKER" ? [each.value] : []
      content {
        public_repository = docker_repository.value.preset
        dynamic "custom_repository" {
          for_each = docker_repository.value.uri == null ? [] : [docker_repository.value.uri]
          content {
            uri = custom_repository.value
          }
        }
      }
    }

    dynamic "python_repository" {
      for_each = each.value.format == "PYTHON" ? [each.value] : []
      content {
        public_repository = python_repository.value.preset
      }
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "readers" {
  for_each = local.reader_grants

  project    = var.project_id
  location   = var.location
  repository = local.repositories[each.value.repository].name
  role       = "roles/artifactregistry.reader"
  member     = each.value.member
}

resource "google_artifact_registry_repository_iam_member" "writers" {
  for_each = var.writers

  project    = var.project_id
  location   = var.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

resource "google_storage_bucket" "builds" {
  # checkov:skip=CKV_GCP_62:Usage logs are legacy; access is audited with Cloud Audit Logs, as for the artifact bucket
  # checkov:skip=CKV_GCP_78:Staged build sources and logs are throwaway copies that expire after build_bucket.delete_after_days; versions would only keep them longer
  project                     = var.project_id
  name                        = var.build_bucket.name
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # only copies of sources in git, and build logs
  labels                      = var.labels

  lifecycle_rule {
    condition {
      age = var.build_bucket.delete_after_days
    }
    action {
      type = "Delete"
    }
  }
}

# gcloud builds submit uploads the sources (objects), checks the bucket (buckets.get,
# which legacyBucketReader holds), and the build, running as the same identity, writes
# its logs there.
resource "google_storage_bucket_iam_member" "builders" {
  for_each = {
    for pair in setproduct(keys(var.writers), ["roles/storage.objectAdmin", "roles/storage.legacyBucketReader"]) :
    "${pair[0]}/${pair[1]}" => { member = var.writers[pair[0]], role = pair[1] }
  }

  bucket = google_storage_bucket.builds.name
  role   = each.value.role
  member = each.value.member
}
