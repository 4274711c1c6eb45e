# The three CI identities and everything they may do. None gets a basic role, and none
# can be used outside the repository pinned in wif.tf.
#
#   <prefix>-ci-plan     terraform plan from pull requests and main: reads every resource
#                        type the environments manage, and the state; writes nothing.
#   <prefix>-ci-apply    terraform apply and the manifests, only from jobs that run in a
#                        protected GitHub environment (required reviewers).
#   <prefix>-ci-publish  pipeline publishing, from the same environment's jobs. It runs the
#                        team's pipeline code (compiling imports it), so it may only reach
#                        KFP through IAP and read the state; it changes nothing in Google
#                        Cloud.

locals {
  principal_prefix = "principal://iam.googleapis.com/${local.pool_name}/subject/repo:${var.github_repository}:"

  # Exactly one OIDC subject per binding: no principalSet, no wildcard.
  apply_principals = { for e in var.ci.apply_environments : e => "${local.principal_prefix}environment:${e}" }
  plan_principals  = { for s in var.ci.plan_subjects : s => "${local.principal_prefix}${s}" }

  # Read-only roles that let `terraform plan` refresh what terraform/environments/* manage.
  plan_roles = setunion([
    "roles/artifactregistry.reader",              # the registry's repositories (modules/registry)
    "roles/cloudsql.viewer",                      # instances, databases, users (never passwords)
    "roles/compute.networkViewer",                # VPC, subnets, router + NAT, firewall rules, global addresses, and servicenetworking.services.get (the private services access connection)
    "roles/container.clusterViewer",              # cluster and node pools; no Kubernetes objects
    "roles/dns.reader",                           # the ingress A record
    "roles/iam.securityReviewer",                 # every IAM policy: project, buckets, service accounts, secrets
    "roles/iam.serviceAccountViewer",             # service accounts (no keys, no impersonation)
    "roles/monitoring.notificationChannelViewer", # budget notification channels
    "roles/secretmanager.viewer",                 # secret metadata, never payloads
    "roles/serviceusage.serviceUsageConsumer",    # bill API quota to the project (billing_project + user_project_override, which the Billing Budget API may need)
    "roles/storage.bucketViewer",                 # bucket settings, not objects
  ], var.ci.extra_plan_roles)

  # Least privilege per service for `terraform apply` of the environments and the deploys.
  apply_roles = setunion([
    "roles/artifactregistry.admin",               # the registry's repositories and who may read or push (modules/registry); reads digests for pipelines deploy
    "roles/cloudsql.admin",                       # the Cloud SQL instance, databases, user
    "roles/compute.networkAdmin",                 # VPC, subnets, router + NAT, global addresses
    "roles/compute.securityAdmin",                # firewall rules (networkAdmin cannot write them)
    "roles/container.admin",                      # cluster, node pools, and the Kubernetes objects CI deploys
    "roles/dns.admin",                            # the ingress A record (zone in this project)
    "roles/iam.serviceAccountAdmin",              # node and workload service accounts and their IAM (Workload Identity, and actAs on the node service account for CI itself)
    "roles/monitoring.notificationChannelEditor", # budget notification channels
    "roles/secretmanager.admin",                  # Cloud SQL password and IAP client secrets; reads them for deploys
    "roles/servicenetworking.networksAdmin",      # private services access connection for Cloud SQL
    "roles/serviceusage.serviceUsageConsumer",    # bill API quota to the project (see plan_roles)
    "roles/storage.admin",                        # the artifact bucket and its IAM
  ], var.ci.extra_apply_roles)

  # The only project roles the apply identity may grant or revoke (the environments' own
  # grants: GKE nodes, KFP workloads, IAP access). Enforced by the condition on its
  # roles/resourcemanager.projectIamAdmin binding below.
  grantable_roles = setunion([
    "roles/artifactregistry.reader",
    "roles/autoscaling.metricsWriter",
    "roles/cloudsql.client",
    "roles/cloudsql.instanceUser",
    "roles/container.defaultNodeServiceAccount",
    "roles/iap.httpsResourceAccessor",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
  ], var.ci.extra_grantable_roles)

  # One hasOnly() per 10 roles, ORed: each list stays within IAM Conditions' limits, and
  # Terraform's google_project_iam_member changes one role per request anyway.
  grantable_condition = join(" || ", [
    for chunk in chunklist(sort(tolist(local.grantable_roles)), 10) :
    "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${join(", ", [for r in chunk : "'${r}'"])}])"
  ])
}

resource "google_service_account" "ci_plan" {
  project      = var.project_id
  account_id   = "${var.prefix}-ci-plan"
  display_name = "CI plan (${var.prefix})"
  description  = "terraform plan from pull requests of ${var.github_repository}: read-only (managed by terraform/bootstrap)."

  depends_on = [google_project_service.services]
}

resource "google_service_account" "ci_apply" {
  project      = var.project_id
  account_id   = "${var.prefix}-ci-apply"
  display_name = "CI apply (${var.prefix})"
  description  = "terraform apply and deploys from protected GitHub environments of ${var.github_repository} (managed by terraform/bootstrap)."

  depends_on = [google_project_service.services]
}

resource "google_service_account" "ci_publish" {
  project      = var.project_id
  account_id   = "${var.prefix}-ci-publish"
  display_name = "CI publish (${var.prefix})"
  description  = "Publishes pipelines to KFP through IAP from protected GitHub environments of ${var.github_repository}; no other access (managed by terraform/bootstrap)."

  depends_on = [google_project_service.services]
}

# Who may act as each service account: one binding per exact OIDC subject.
resource "google_service_account_iam_member" "ci_plan_wif" {
  for_each = local.plan_principals

  service_account_id = google_service_account.ci_plan.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value

  depends_on = [google_iam_workload_identity_pool_provider.github]
}

resource "google_service_account_iam_member" "ci_apply_wif" {
  for_each = local.apply_principals

  service_account_id = google_service_account.ci_apply.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value

  depends_on = [google_iam_workload_identity_pool_provider.github]
}

# The publisher is bound to the same environment subject as the apply identity: the one
# approval of a deploy covers both (docs/ci.md, "The deploy").
resource "google_service_account_iam_member" "ci_publish_wif" {
  for_each = local.apply_principals

  service_account_id = google_service_account.ci_publish.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value

  depends_on = [google_iam_workload_identity_pool_provider.github]
}

# kfp-gcp mints the IAP ID token itself, when it needs one, from the job's federated
# credentials: IAM Credentials generateIdToken on this account, called as this account
# (src/kfp_gcp/services/kfp/auth.py). Calling it for oneself needs the permission on
# oneself; this role holds only iam.serviceAccounts.getOpenIdToken.
resource "google_service_account_iam_member" "ci_publish_id_tokens" {
  service_account_id = google_service_account.ci_publish.name
  role               = "roles/iam.serviceAccountOpenIdTokenCreator"
  member             = google_service_account.ci_publish.member
}

resource "google_project_iam_member" "ci_plan" {
  for_each = local.plan_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.ci_plan.member
}

resource "google_project_iam_member" "ci_apply" {
  # No project-wide roles/iam.serviceAccountUser: it would let CI act as every service
  # account in the project. The environment grants it on its node service account only
  # (modules/gke, node_service_account_users).
  for_each = local.apply_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.ci_apply.member
}

# Project IAM admin, but only for the roles in grantable_roles: CI cannot make itself (or
# anyone) owner, editor, IAM admin, token creator or workload identity user on the project.
resource "google_project_iam_member" "ci_apply_iam_admin" {
  project = var.project_id
  role    = "roles/resourcemanager.projectIamAdmin"
  member  = google_service_account.ci_apply.member

  condition {
    title       = "only-platform-grants"
    description = "Grant and revoke only the platform's own project roles (terraform/bootstrap grantable_roles)."
    expression  = local.grantable_condition
  }
}

# Budgets are billing-account resources: reading and writing them needs roles there. The
# person applying must administer the billing account; leave billing_account_id null
# otherwise and ask a billing administrator (README.md).
resource "google_billing_account_iam_member" "ci_plan" {
  count = var.billing_account_id == null ? 0 : 1

  billing_account_id = var.billing_account_id
  role               = "roles/billing.viewer"
  member             = google_service_account.ci_plan.member
}

resource "google_billing_account_iam_member" "ci_apply" {
  count = var.billing_account_id == null ? 0 : 1

  billing_account_id = var.billing_account_id
  role               = "roles/billing.costsManager"
  member             = google_service_account.ci_apply.member
}
