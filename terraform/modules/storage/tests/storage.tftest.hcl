mock_provider "google" {}

variables {
  prefix     = "demo"
  project_id = "demo-project"
  location   = "europe-west1"
}

run "bucket_is_private_and_recoverable" {
  command = plan

  assert {
    condition     = google_storage_bucket.bucket.name == "demo-kfp-artifacts"
    error_message = "bucket name must be <prefix>-kfp-artifacts, got ${google_storage_bucket.bucket.name}"
  }
  assert {
    condition     = google_storage_bucket.bucket.location == "europe-west1"
    error_message = "location must be passed through"
  }
  assert {
    condition     = google_storage_bucket.bucket.uniform_bucket_level_access == true
    error_message = "uniform bucket-level access must be on (no object ACLs)"
  }
  assert {
    condition     = google_storage_bucket.bucket.public_access_prevention == "enforced"
    error_message = "public access prevention must be enforced"
  }
  assert {
    condition     = google_storage_bucket.bucket.force_destroy == false
    error_message = "destroying the bucket must never delete the artifacts in it"
  }
  assert {
    condition     = google_storage_bucket.bucket.soft_delete_policy[0].retention_duration_seconds == 604800
    error_message = "soft delete must keep deleted objects for 7 days by default"
  }
  assert {
    condition     = google_storage_bucket.bucket.versioning[0].enabled == false
    error_message = "versioning is off by default"
  }
  assert {
    condition     = length(google_storage_bucket.bucket.lifecycle_rule) == 0
    error_message = "no lifecycle rules by default"
  }
  assert {
    condition     = output.pipeline_root == "gs://demo-kfp-artifacts/pipeline-root"
    error_message = "pipeline_root must be gs://<bucket>/pipeline-root, got ${output.pipeline_root}"
  }
  assert {
    condition     = output.url == "gs://demo-kfp-artifacts" && output.name == "demo-kfp-artifacts"
    error_message = "url must be gs://<bucket>"
  }
}

run "lifecycle_rules_from_the_map" {
  command = plan

  variables {
    name                        = "acme-ml-artifacts"
    pipeline_root_path          = "v2/artifacts"
    soft_delete_retention_days  = 30
    labels                      = { env = "test" }
    lifecycle_delete_after_days = { "private-artifacts/" = 30, "v2/artifacts/scratch/" = 7 }
  }

  assert {
    condition     = google_storage_bucket.bucket.name == "acme-ml-artifacts"
    error_message = "name must override the default bucket name"
  }
  assert {
    condition     = length(google_storage_bucket.bucket.lifecycle_rule) == 2
    error_message = "one lifecycle rule per map entry"
  }
  assert {
    condition = alltrue([
      for r in google_storage_bucket.bucket.lifecycle_rule :
      one(r.action).type == "Delete" && length(one(r.condition).matches_prefix) == 1
    ])
    error_message = "every rule must delete objects under exactly one prefix"
  }
  assert {
    condition = {
      for r in google_storage_bucket.bucket.lifecycle_rule :
      one(r.condition).matches_prefix[0] => one(r.condition).age
    } == { "private-artifacts/" = 30, "v2/artifacts/scratch/" = 7 }
    error_message = "the rules must be built from lifecycle_delete_after_days (prefix => age in days)"
  }
  assert {
    condition     = google_storage_bucket.bucket.soft_delete_policy[0].retention_duration_seconds == 30 * 86400
    error_message = "soft_delete_retention_days must set the soft delete retention"
  }
  assert {
    condition     = google_storage_bucket.bucket.labels == tomap({ env = "test" })
    error_message = "labels must reach the bucket"
  }
  assert {
    condition     = output.pipeline_root == "gs://acme-ml-artifacts/v2/artifacts"
    error_message = "pipeline_root must follow name and pipeline_root_path, got ${output.pipeline_root}"
  }
}

# Colder classes, never deletion: models stay readable at the path KFP recorded. Applied
# (against the mock) so the rules' computed attributes are known.
run "colder_classes_as_objects_age" {
  command = apply

  variables {
    lifecycle_storage_class     = { NEARLINE = 30, COLDLINE = 90 }
    lifecycle_delete_after_days = { "private-artifacts/" = 30 }
  }

  assert {
    condition = tomap({
      for r in google_storage_bucket.bucket.lifecycle_rule :
      one(r.action).storage_class => "${one(r.condition).age}:${join(",", one(r.condition).matches_storage_class)}"
      if one(r.action).type == "SetStorageClass"
    }) == tomap({ NEARLINE = "30:STANDARD", COLDLINE = "90:STANDARD,NEARLINE" })
    error_message = "each class transition must apply at its age to objects in every warmer class"
  }
  assert {
    condition = join(" ", flatten([
      for r in google_storage_bucket.bucket.lifecycle_rule :
      one(r.condition).matches_prefix if one(r.action).type == "Delete"
    ])) == "private-artifacts/"
    error_message = "only the listed prefix is deleted; the pipeline root (models) is never"
  }
}

run "rejects_deleting_the_pipeline_root" {
  command = plan
  variables {
    lifecycle_delete_after_days = { "pipeline-root/" = 90 }
  }
  expect_failures = [var.lifecycle_delete_after_days]
}

run "rejects_deleting_above_the_pipeline_root" {
  command = plan
  variables {
    pipeline_root_path          = "v2/artifacts"
    lifecycle_delete_after_days = { "v2/" = 90 }
  }
  expect_failures = [var.lifecycle_delete_after_days]
}

run "accepts_deleting_one_scratch_pipeline" {
  command = plan
  variables {
    lifecycle_delete_after_days = { "pipeline-root/sweep/" = 14 }
  }
  assert {
    condition     = length(google_storage_bucket.bucket.lifecycle_rule) == 1
    error_message = "a narrower prefix under the pipeline root may be deleted"
  }
}

run "rejects_warmer_class_later" {
  command = plan
  variables {
    lifecycle_storage_class = { NEARLINE = 90, COLDLINE = 30 }
  }
  expect_failures = [var.lifecycle_storage_class]
}

run "rejects_unknown_class" {
  command = plan
  variables {
    lifecycle_storage_class = { STANDARD = 30 }
  }
  expect_failures = [var.lifecycle_storage_class]
}

run "versioning_cleans_noncurrent_versions" {
  command = plan

  variables {
    versioning                 = { enabled = true }
    soft_delete_retention_days = 0
  }

  assert {
    condition     = google_storage_bucket.bucket.versioning[0].enabled == true
    error_message = "versioning.enabled must turn versioning on"
  }
  assert {
    condition     = length(google_storage_bucket.bucket.lifecycle_rule) == 1 && one(google_storage_bucket.bucket.lifecycle_rule[0].condition).days_since_noncurrent_time == 30
    error_message = "with versioning, noncurrent versions must be deleted after 30 days by default"
  }
  assert {
    condition     = google_storage_bucket.bucket.soft_delete_policy[0].retention_duration_seconds == 0
    error_message = "soft_delete_retention_days = 0 must turn soft delete off"
  }
}

run "apply" {
  assert {
    condition     = output.pipeline_root == "gs://demo-kfp-artifacts/pipeline-root"
    error_message = "pipeline_root must be known after apply"
  }
}

run "rejects_bad_prefix" {
  command = plan
  variables {
    prefix = "x"
  }
  expect_failures = [var.prefix]
}

run "rejects_soft_delete_below_7_days" {
  command = plan
  variables {
    soft_delete_retention_days = 3
  }
  expect_failures = [var.soft_delete_retention_days]
}

run "rejects_soft_delete_above_90_days" {
  command = plan
  variables {
    soft_delete_retention_days = 91
  }
  expect_failures = [var.soft_delete_retention_days]
}

run "rejects_zero_day_lifecycle_rule" {
  command = plan
  variables {
    lifecycle_delete_after_days = { "tmp/" = 0 }
  }
  expect_failures = [var.lifecycle_delete_after_days]
}

run "rejects_gs_url_as_lifecycle_prefix" {
  command = plan
  variables {
    lifecycle_delete_after_days = { "gs://demo-kfp-artifacts/tmp/" = 7 }
  }
  expect_failures = [var.lifecycle_delete_after_days]
}

run "rejects_bad_bucket_name" {
  command = plan
  variables {
    name = "my-google-artifacts"
  }
  expect_failures = [var.name]
}

run "rejects_absolute_pipeline_root_path" {
  command = plan
  variables {
    pipeline_root_path = "/pipeline-root/"
  }
  expect_failures = [var.pipeline_root_path]
}

run "rejects_zone_as_location" {
  command = plan
  variables {
    location = "europe-west1-b"
  }
  expect_failures = [var.location]
}
