# Password rotation, applied twice against mocks: password_version 1, then 2. The second
# run's plan (terraform test -verbose; tests/test_terraform.py reads it) must replace the
# secret version create-before-destroy ("+/-") and update the user in place: the old
# version is disabled only after the user holds the new password.
mock_provider "google" {
  mock_resource "google_secret_manager_secret" {
    defaults = {
      id = "projects/demo-project/secrets/demo-kfp-db-password"
    }
  }
  mock_resource "google_sql_database_instance" {
    defaults = {
      connection_name = "demo-project:europe-west1:demo-kfp"
    }
  }
}

variables {
  prefix          = "demo"
  project_id      = "demo-project"
  region          = "europe-west1"
  private_network = "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/demo-vpc"
}

run "password_version_1" {
  assert {
    condition     = google_secret_manager_secret_version.password.secret_data_wo_version == 1 && google_sql_user.kfp.password_wo_version == 1
    error_message = "the first apply writes version 1 to the secret and the user"
  }
}

# Plan only: its rendering under -verbose shows the order of the replacement. The real
# provider replaces a secret version whenever secret_data_wo_version changes (ForceNew in
# google/services/secretmanager/resource_secret_manager_secret_version.go, v6.50.0); the
# offline schema has no ForceNew, so the replacement is requested here the same way.
run "rotation_plan" {
  command = plan

  variables {
    password_version = 2
  }

  plan_options {
    replace = [google_secret_manager_secret_version.password]
  }

  assert {
    condition     = google_secret_manager_secret_version.password.secret_data_wo_version == 2 && google_sql_user.kfp.password_wo_version == 2
    error_message = "the rotation plan must change both sides"
  }
}

run "rotate_to_password_version_2" {
  variables {
    password_version = 2
  }

  plan_options {
    replace = [google_secret_manager_secret_version.password]
  }

  assert {
    condition     = google_secret_manager_secret_version.password.secret_data_wo_version == 2 && google_sql_user.kfp.password_wo_version == 2
    error_message = "a rotation writes the new version to the secret and the user in the same apply"
  }

  assert {
    condition     = google_secret_manager_secret_version.password.deletion_policy == "DISABLE"
    error_message = "the replaced secret version must be disabled, not destroyed: it holds the password the database had"
  }

  assert {
    condition     = google_sql_user.kfp.name == "kfp" && output.user_name == "kfp"
    error_message = "the user is updated in place, never recreated, by a rotation"
  }
}
