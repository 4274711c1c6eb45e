mock_provider "google" {}

variables {
  prefix       = "kfpdev"
  project_id   = "acme-ml-dev"
  location     = "europe-west1"
  build_bucket = { name = "acme-ml-dev-kfpdev-builds" }
  readers      = { nodes = "serviceAccount:kfpdev-gke-nodes@acme-ml-dev.iam.gserviceaccount.com" }
  writers      = { ci-build = "serviceAccount:kfp-ci-build@acme-ml-dev.iam.gserviceaccount.com" }
}

run "images_have_immutable_tags_and_cleanup" {
  command = plan

  assert {
    condition     = google_artifact_registry_repository.images.repository_id == "kfpdev-images" && google_artifact_registry_repository.images.format == "DOCKER"
    error_message = "the component images live in the Docker repository <prefix>-images"
  }
  assert {
    condition     = google_artifact_registry_repository.images.docker_config[0].immutable_tags == true
    error_message = "tags are content hashes: they must be immutable"
  }
  assert {
    condition     = google_artifact_registry_repository.images.cleanup_policy_dry_run == false
    error_message = "cleanup runs for real by default"
  }
  assert {
    condition = {
      for p in google_artifact_registry_repository.images.cleanup_policies : p.id => p.action
    } == { "keep-recent" = "KEEP", "delete-untagged" = "DELETE", "delete-old" = "DELETE" }
    error_message = "three policies: keep the newest versions, delete untagged ones, delete old ones"
  }
  assert {
    condition = one([
      for p in google_artifact_registry_repository.images.cleanup_policies : p.most_recent_versions[0].keep_count if p.id == "keep-recent"
    ]) == 10
    error_message = "the 10 newest versions of each image are kept, however old"
  }
  assert {
    condition = {
      for p in google_artifact_registry_repository.images.cleanup_policies :
      p.id => [p.condition[0].tag_state, p.condition[0].older_than] if p.action == "DELETE"
    } == { "delete-untagged" = ["UNTAGGED", "604800s"], "delete-old" = ["ANY", "15552000s"] }
    error_message = "untagged versions go after 7 days, all others after 180 (in seconds, as the API takes them)"
  }
  assert {
    condition     = output.images == "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-images"
    error_message = "images is the Docker path of the repository, got ${output.images}"
  }
}

run "remotes_pull_the_registries_the_manifests_use_and_pypi" {
  command = plan

  assert {
    condition     = toset(keys(google_artifact_registry_repository.remote)) == toset(["docker.io", "gcr.io", "ghcr.io", "quay.io", "pypi"])
    error_message = "by default: Docker Hub, gcr.io, GHCR and quay.io (the rendered KFP images) and PyPI"
  }
  assert {
    condition     = alltrue([for r in google_artifact_registry_repository.remote : r.mode == "REMOTE_REPOSITORY"])
    error_message = "every mirror is a remote repository"
  }
  assert {
    condition     = google_artifact_registry_repository.remote["docker.io"].remote_repository_config[0].docker_repository[0].public_repository == "DOCKER_HUB"
    error_message = "Docker Hub uses Artifact Registry's preset"
  }
  assert {
    condition = {
      for k in ["gcr.io", "ghcr.io", "quay.io"] :
      k => google_artifact_registry_repository.remote[k].remote_repository_config[0].docker_repository[0].custom_repository[0].uri
    } == { "gcr.io" = "https://gcr.io", "ghcr.io" = "https://ghcr.io", "quay.io" = "https://quay.io" }
    error_message = "the other registries are custom upstreams, by their https URL"
  }
  assert {
    condition     = google_artifact_registry_repository.remote["pypi"].format == "PYTHON" && google_artifact_registry_repository.remote["pypi"].remote_repository_config[0].python_repository[0].public_repository == "PYPI"
    error_message = "PyPI is a Python remote repository with the PYPI preset"
  }
  assert {
    condition = output.mirrors == {
      "docker.io" = "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-docker-hub"
      "gcr.io"    = "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-gcr"
      "ghcr.io"   = "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-ghcr"
      "quay.io"   = "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-quay"
    }
    error_message = "mirrors maps each Docker registry to its remote repository's path (pypi is not a Docker registry)"
  }
  assert {
    condition     = output.pypi == "https://europe-west1-python.pkg.dev/acme-ml-dev/kfpdev-pypi/simple/"
    error_message = "pypi is the remote repository's simple index, got ${output.pypi}"
  }
}

run "nodes_read_everything_ci_build_writes_images_only" {
  command = plan

  assert {
    condition     = length(google_artifact_registry_repository_iam_member.readers) == 6 && alltrue([for g in google_artifact_registry_repository_iam_member.readers : g.role == "roles/artifactregistry.reader"])
    error_message = "each reader may pull from each of the six repositories, nothing more"
  }
  assert {
    condition     = keys(google_artifact_registry_repository_iam_member.writers) == ["ci-build"] && google_artifact_registry_repository_iam_member.writers["ci-build"].role == "roles/artifactregistry.writer"
    error_message = "the build identity writes to the images repository"
  }
  assert {
    condition     = google_artifact_registry_repository_iam_member.writers["ci-build"].member == "serviceAccount:kfp-ci-build@acme-ml-dev.iam.gserviceaccount.com"
    error_message = "writers are passed through"
  }
  assert {
    condition     = toset([for g in google_storage_bucket_iam_member.builders : g.role]) == toset(["roles/storage.objectAdmin", "roles/storage.legacyBucketReader"])
    error_message = "the build identity stages sources and writes logs in the build bucket, and nothing else on it"
  }
  assert {
    condition     = google_storage_bucket.builds.public_access_prevention == "enforced" && google_storage_bucket.builds.uniform_bucket_level_access == true
    error_message = "the build bucket is private"
  }
  assert {
    condition     = one(google_storage_bucket.builds.lifecycle_rule[0].condition).age == 7
    error_message = "staged sources and logs expire after a week"
  }
}

run "settings_change_cleanup_and_remotes" {
  command = plan

  variables {
    remotes = ["ghcr.io", "registry.k8s.io"]
    readers = {}
    writers = {}
    cleanup = { keep_recent = 3, delete_after_days = 0, dry_run = true }
  }

  assert {
    condition     = toset(keys(google_artifact_registry_repository.remote)) == toset(["ghcr.io", "registry.k8s.io"])
    error_message = "remotes chooses the mirrors"
  }
  assert {
    condition     = output.pypi == "" && keys(output.mirrors) == ["ghcr.io", "registry.k8s.io"]
    error_message = "without pypi in remotes the pypi output is empty"
  }
  assert {
    condition     = length([for p in google_artifact_registry_repository.images.cleanup_policies : p.id if p.id == "delete-old"]) == 0
    error_message = "delete_after_days = 0 keeps every tagged version"
  }
  assert {
    condition     = google_artifact_registry_repository.images.cleanup_policy_dry_run == true
    error_message = "dry_run only logs what cleanup would delete"
  }
  assert {
    condition     = length(google_artifact_registry_repository_iam_member.readers) == 0 && length(google_storage_bucket_iam_member.builders) == 0
    error_message = "no members, no grants"
  }
}

run "apply" {
  assert {
    condition     = startswith(output.build_bucket, "gs://acme-ml-dev-kfpdev-builds")
    error_message = "build_bucket is the bucket's gs:// URL"
  }
}

run "rejects_unknown_remote" {
  command = plan
  variables {
    remotes = ["docker.io", "nvcr.io"]
  }
  expect_failures = [var.remotes]
}

run "rejects_cleanup_that_forgets_deployed_images" {
  command = plan
  variables {
    cleanup = { delete_after_days = 7 }
  }
  expect_failures = [var.cleanup]
}

run "rejects_keeping_no_version" {
  command = plan
  variables {
    cleanup = { keep_recent = 0 }
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_person_as_writer" {
  command = plan
  variables {
    writers = { me = "user:me@example.com" }
  }
  expect_failures = [var.writers]
}

run "rejects_zone_as_location" {
  command = plan
  variables {
    location = "europe-west1-b"
  }
  expect_failures = [var.location]
}

run "rejects_bad_bucket_name" {
  command = plan
  variables {
    build_bucket = { name = "google-builds" }
  }
  expect_failures = [var.build_bucket]
}
