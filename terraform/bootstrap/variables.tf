variable "billing_account_id" {
  description = "Billing account of the project, such as \"012345-6789AB-CDEF01\". When set, the CI identities get budget access on it (plan: roles/billing.viewer, apply: roles/billing.costsManager), which needs the person applying to administer the billing account. Null: grant those yourself, or do without budgets."
  type        = string
  default     = null

  validation {
    condition     = var.billing_account_id == null ? true : can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "billing_account_id must look like \"012345-6789AB-CDEF01\" (gcloud billing projects describe <project_id>), without the \"billingAccounts/\" prefix, or be null."
  }
}

variable "ci" {
  description = <<-EOT
    The CI identities of THIS project. apply_environments: the one GitHub environment
    (protected) whose jobs may use the apply and publish service accounts; it is also the
    folder under terraform/environments/ this project serves, and the suffix of its GitHub
    variables (dev -> _DEV). plan_subjects: the OIDC subjects, after "repo:<owner>/<name>:",
    whose jobs may use the plan service account: "pull_request" (PR plans and renders) and
    "ref:refs/heads/main" (the deploy workflow's plan on main, and the drift plans), which
    must be there. extra_apply_roles, extra_plan_roles:
    project roles added to the reviewed defaults (iam.tf). extra_grantable_roles: project
    roles the apply identity may grant besides the defaults.
  EOT
  type = object({
    apply_environments    = set(string)
    extra_apply_roles     = optional(set(string), [])
    extra_grantable_roles = optional(set(string), [])
    extra_plan_roles      = optional(set(string), [])
    plan_subjects         = optional(set(string), ["pull_request", "ref:refs/heads/main"])
  })
  nullable = false

  validation {
    condition     = length(var.ci.apply_environments) == 1
    error_message = "ci.apply_environments must name exactly one GitHub environment, the one this project serves, such as [\"dev\"] in the dev project and [\"prod\"] in the prod project: a project that trusts a second environment lets that environment's jobs (and whoever approves them) change this project, so a dev deploy could reach prod."
  }
  validation {
    condition     = alltrue([for e in var.ci.apply_environments : can(regex("^[a-z][a-z0-9-]{0,30}$", e))])
    error_message = "ci.apply_environments must name the environment as its folder under terraform/environments/ is named (1-31 lower-case letters, digits and '-', starting with a letter, such as \"dev\"), and the GitHub environment must be spelled the same: IAM compares OIDC subjects case-sensitively."
  }
  validation {
    condition     = length(var.ci.plan_subjects) > 0 && alltrue([for s in var.ci.plan_subjects : can(regex("^(pull_request|ref:refs/(heads|tags)/[A-Za-z0-9._/-]+)$", s))])
    error_message = "ci.plan_subjects entries must be \"pull_request\" or \"ref:refs/heads/<branch>\" (or \"ref:refs/tags/<tag>\"), exact names without wildcards, such as [\"pull_request\", \"ref:refs/heads/main\"]. Never \"environment:...\": environments belong to the apply identity."
  }
  validation {
    condition     = contains(var.ci.plan_subjects, "ref:refs/heads/main")
    error_message = "ci.plan_subjects must include \"ref:refs/heads/main\": the deploy workflow plans main with the plan identity before anyone approves, and the drift job plans main every morning (docs/ci.md). Such as [\"pull_request\", \"ref:refs/heads/main\"]."
  }
  validation {
    condition = alltrue([
      for s in concat([for e in var.ci.apply_environments : "environment:${e}"], tolist(var.ci.plan_subjects)) :
      length("repo:${var.github_repository}:${s}") <= 127
    ])
    error_message = "\"repo:<github_repository>:environment:<name>\" and \"repo:<github_repository>:<plan subject>\" must fit in 127 characters (the limit of google.subject): shorten the environment or branch names."
  }
  validation {
    condition = alltrue([
      for r in setunion(var.ci.extra_apply_roles, var.ci.extra_plan_roles, var.ci.extra_grantable_roles) :
      can(regex("^(roles/[a-zA-Z0-9_.]+|projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[a-zA-Z0-9_.]+)$", r)) && !contains(["roles/owner", "roles/editor", "roles/viewer"], r)
    ])
    error_message = "ci.extra_*_roles must be predefined roles (\"roles/<service>.<role>\") or project custom roles (\"projects/<project>/roles/<id>\"), never the basic roles roles/owner, roles/editor or roles/viewer."
  }
  validation {
    condition     = alltrue([for r in var.ci.extra_plan_roles : can(regex("(?i)(viewer|reader|reviewer)$", r))])
    error_message = "ci.extra_plan_roles must be read-only roles whose names end in Viewer, Reader or Reviewer, such as \"roles/artifactregistry.reader\": pull requests can use the plan identity."
  }
  validation {
    condition     = alltrue([for r in var.ci.extra_apply_roles : !contains(["roles/resourcemanager.projectIamAdmin", "roles/iam.securityAdmin", "roles/resourcemanager.organizationAdmin", "roles/resourcemanager.folderAdmin"], r)])
    error_message = "ci.extra_apply_roles may not include IAM-admin roles (projectIamAdmin, iam.securityAdmin, ...): the apply identity's right to grant roles is the conditional projectIamAdmin; add roles it may grant to ci.extra_grantable_roles instead."
  }
  validation {
    condition     = alltrue([for r in var.ci.extra_apply_roles : !contains(["roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/iam.workloadIdentityUser"], r)])
    error_message = "ci.extra_apply_roles may not include roles/iam.serviceAccountUser, serviceAccountTokenCreator or workloadIdentityUser: on the project they let CI act as every service account in it. Grant them on the one service account CI must act as (the gke module does this for its node service account)."
  }
  validation {
    condition     = alltrue([for r in var.ci.extra_grantable_roles : !can(regex("^roles/(iam|resourcemanager|orgpolicy|accesscontextmanager|owner|editor|viewer)\\b", r))])
    error_message = "ci.extra_grantable_roles may not include identity or hierarchy roles (roles/iam.*, roles/resourcemanager.*, roles/orgpolicy.*, roles/accesscontextmanager.*) or basic roles: granting them would let CI escalate its own access."
  }
}

variable "extra_services" {
  description = "APIs to enable besides the platform's (main.tf), such as \"aiplatform.googleapis.com\" for pipelines that call Vertex AI."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.extra_services : can(regex("^[a-z0-9.-]+\\.googleapis\\.com$", s))])
    error_message = "extra_services entries must be service names such as \"aiplatform.googleapis.com\"."
  }
}

variable "github_owner_id" {
  description = "Optional numeric id of the repository's owner (user or organisation): gh api users/<owner> --jq .id. When set, the provider's attribute condition also pins assertion.repository_owner_id."
  type        = string
  default     = null

  validation {
    condition     = var.github_owner_id == null ? true : can(regex("^[1-9][0-9]{0,19}$", var.github_owner_id))
    error_message = "github_owner_id must be the owner's numeric id, digits only, such as \"9919\" (gh api users/<owner> --jq .id), or null."
  }
}

variable "github_repository" {
  description = "The GitHub repository, \"owner/name\", spelled exactly as GitHub does (case included): it is part of the OIDC subjects that the CI identities are bound to."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", var.github_repository)) && !endswith(var.github_repository, ".git")
    error_message = "github_repository must be \"owner/name\", such as \"example-org/kfp-platform\": no URL, no \".git\", spelled as on GitHub."
  }
}

variable "github_repository_id" {
  description = "Numeric id of the GitHub repository (gh api repos/<owner>/<name> --jq .id). The Workload Identity provider admits only tokens whose repository_id claim equals it: ids, unlike names, cannot be re-registered by someone else. No default on purpose."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]{0,19}$", var.github_repository_id))
    error_message = "github_repository_id must be the repository's numeric id, digits only, such as \"123456789\": run gh api repos/<owner>/<name> --jq .id."
  }
}

variable "labels" {
  description = "Labels merged into every labelled resource (the state bucket)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for k, v in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "labels keys must start with a lower-case letter and, like values, use only lower-case letters, digits, '_' and '-' (at most 63 characters)."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (\"<prefix>-ci-plan\", \"<prefix>-ci-apply\", \"<prefix>-github\", ...). Environments choose their own prefix (it must differ per environment when several share a project)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "The project to bootstrap (it must exist and have billing enabled)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lower-case letters, digits and hyphens, starting with a letter), such as \"my-kfp-project\", not the project number or name."
  }
}

variable "project_number" {
  description = "The project's number (gcloud projects describe <project_id> --format='value(projectNumber)'). Workload Identity principals are named by it; a variable avoids a data source at plan time."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]{5,19}$", var.project_number))
    error_message = "project_number must be the project's number, digits only, such as \"123456789012\" (gcloud projects describe <project_id> --format='value(projectNumber)'), not its id."
  }
}

variable "state_bucket" {
  description = <<-EOT
    The Terraform state bucket. location: a region or multi-region such as "europe-west1" or
    "EU". name: default "<prefix>-<project_id>-tfstate" (bucket names are global; the project
    id makes it unique). noncurrent_versions: older state versions kept besides the live one.
    soft_delete_days: how long deleted objects stay restorable (7-90).
  EOT
  type = object({
    location            = string
    name                = optional(string)
    noncurrent_versions = optional(number, 10)
    soft_delete_days    = optional(number, 30)
  })
  nullable = false

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+$", var.state_bucket.location))
    error_message = "state_bucket.location must be a region or multi-region such as \"europe-west1\", \"EU\" or \"US\"."
  }
  validation {
    condition     = var.state_bucket.name == null ? true : (can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.state_bucket.name)) && !startswith(var.state_bucket.name, "goog") && !strcontains(var.state_bucket.name, "google"))
    error_message = "state_bucket.name must be 3-63 lower-case letters, digits, '-' or '_', starting and ending with a letter or digit, without \"goog\" at the start or \"google\" anywhere; or null for \"<prefix>-<project_id>-tfstate\"."
  }
  validation {
    condition     = var.state_bucket.noncurrent_versions >= 1 && var.state_bucket.noncurrent_versions <= 100 && floor(var.state_bucket.noncurrent_versions) == var.state_bucket.noncurrent_versions
    error_message = "state_bucket.noncurrent_versions must be a whole number from 1 to 100: how many older state versions to keep."
  }
  validation {
    condition     = var.state_bucket.soft_delete_days >= 7 && var.state_bucket.soft_delete_days <= 90 && floor(var.state_bucket.soft_delete_days) == var.state_bucket.soft_delete_days
    error_message = "state_bucket.soft_delete_days must be a whole number of days from 7 to 90 (Cloud Storage's soft delete range)."
  }
}
