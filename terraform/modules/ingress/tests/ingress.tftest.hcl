# Offline: google is mocked (tf-offline). Plan-only runs; the static IP's address is pinned
# so the DNS record's rrdatas are known at plan time.
mock_provider "google" {}

variables {
  prefix                           = "kfp"
  project_id                       = "demo-project"
  domain                           = "kfp.example.com"
  ci_publish_service_account_email = "kfp-ci-publish@demo-project.iam.gserviceaccount.com"
  iap_members                      = ["group:ml-team@example.com", "user:ana@example.com"]
}

run "static_ip_secrets_and_iap" {
  command = plan

  assert {
    condition     = google_compute_global_address.ui.name == "kfp-kfp-ui" && output.static_ip_name == "kfp-kfp-ui"
    error_message = "the static IP must be named <prefix>-kfp-ui"
  }

  # A google_compute_global_address is global by type; EXTERNAL + IPV4 is what a GCE Ingress can use.
  assert {
    condition     = google_compute_global_address.ui.address_type == "EXTERNAL" && google_compute_global_address.ui.ip_version == "IPV4"
    error_message = "the static IP must be an external global IPv4 address"
  }

  assert {
    condition     = length(google_dns_record_set.ui) == 0 && output.dns_record_name == null
    error_message = "no DNS record may be created when dns is not set"
  }

  assert {
    condition     = google_secret_manager_secret.iap_client_id.secret_id == "kfp-iap-client-id" && google_secret_manager_secret.iap_client_secret.secret_id == "kfp-iap-client-secret"
    error_message = "the IAP OAuth secrets must be <prefix>-iap-client-id and <prefix>-iap-client-secret"
  }

  assert {
    condition     = output.iap_client_id_secret == "kfp-iap-client-id" && output.iap_client_secret_secret == "kfp-iap-client-secret"
    error_message = "the secret outputs must be the secret ids"
  }

  assert {
    condition     = google_secret_manager_secret.iap_client_id.deletion_protection && google_secret_manager_secret.iap_client_secret.deletion_protection
    error_message = "the hand-filled secrets must be protected from deletion by default"
  }

  assert {
    condition = toset([for b in google_project_iam_member.iap_accessor : b.member]) == toset([
      "group:ml-team@example.com",
      "user:ana@example.com",
      "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com",
    ])
    error_message = "IAP accessors must be exactly iap_members plus the CI publish identity"
  }

  assert {
    condition = (
      google_secret_manager_secret_iam_member.iap_client_id_publisher.secret_id == "kfp-iap-client-id" &&
      google_secret_manager_secret_iam_member.iap_client_id_publisher.role == "roles/secretmanager.secretAccessor" &&
      google_secret_manager_secret_iam_member.iap_client_id_publisher.member == "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com"
    )
    error_message = "the CI publish identity must read the IAP client id, the audience of its ID tokens"
  }

  assert {
    condition     = alltrue([for b in google_project_iam_member.iap_accessor : b.role == "roles/iap.httpsResourceAccessor" && b.project == "demo-project"])
    error_message = "IAP access must be roles/iap.httpsResourceAccessor on the project, nothing else"
  }

  assert {
    condition     = output.domain == "kfp.example.com"
    error_message = "domain output is ${output.domain}"
  }
}

run "ci_identity_listed_twice_is_granted_once" {
  command = plan

  variables {
    iap_members = ["serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com"]
  }

  assert {
    condition     = length(google_project_iam_member.iap_accessor) == 1
    error_message = "the CI publish identity must be bound once, even when also listed in iap_members"
  }
}

run "dns_record_when_configured" {
  command = plan

  variables {
    dns = {
      managed_zone = "example-com"
      project      = "dns-hub-1234"
    }
  }

  override_resource {
    target          = google_compute_global_address.ui
    override_during = plan
    values = {
      address = "203.0.113.10"
    }
  }

  assert {
    condition     = length(google_dns_record_set.ui) == 1
    error_message = "one A record must be created when dns is set"
  }

  assert {
    condition = (
      google_dns_record_set.ui[0].name == "kfp.example.com." &&
      google_dns_record_set.ui[0].type == "A" &&
      google_dns_record_set.ui[0].managed_zone == "example-com" &&
      google_dns_record_set.ui[0].project == "dns-hub-1234" &&
      google_dns_record_set.ui[0].ttl == 300
    )
    error_message = "the A record must be <domain>. in the given zone and project, TTL 300 by default"
  }

  assert {
    condition     = google_dns_record_set.ui[0].rrdatas == tolist(["203.0.113.10"]) && output.static_ip_address == "203.0.113.10"
    error_message = "the A record must point at the static IP"
  }

  assert {
    condition     = output.dns_record_name == "kfp.example.com."
    error_message = "dns_record_name is ${coalesce(output.dns_record_name, "null")}"
  }
}

run "dns_zone_project_defaults_to_project_id" {
  command = plan

  variables {
    dns = {
      managed_zone = "example-com"
    }
  }

  assert {
    condition     = google_dns_record_set.ui[0].project == "demo-project"
    error_message = "the record's project must default to project_id"
  }
}

run "rejects_member_without_prefix" {
  command = plan

  variables {
    iap_members = ["ana@example.com"]
  }

  expect_failures = [var.iap_members]
}

run "rejects_unknown_member_prefix" {
  command = plan

  variables {
    iap_members = ["allUsers", "principalSet://iam.googleapis.com/locations/global/workforcePools/p/*"]
  }

  expect_failures = [var.iap_members]
}

run "rejects_public_members" {
  command = plan

  variables {
    iap_members = ["user:allAuthenticatedUsers"]
  }

  expect_failures = [var.iap_members]
}

run "rejects_ci_identity_with_member_prefix" {
  command = plan

  variables {
    ci_publish_service_account_email = "serviceAccount:kfp-ci-publish@demo-project.iam.gserviceaccount.com"
  }

  expect_failures = [var.ci_publish_service_account_email]
}

run "rejects_domain_with_scheme" {
  command = plan

  variables {
    domain = "https://kfp.example.com"
  }

  expect_failures = [var.domain]
}

run "rejects_dns_name_as_zone" {
  command = plan

  variables {
    dns = {
      managed_zone = "example.com."
    }
  }

  expect_failures = [var.dns]
}

run "rejects_bad_prefix" {
  command = plan

  variables {
    prefix = "KFP_"
  }

  expect_failures = [var.prefix]
}
