variable "amount" {
  description = "The monthly budget: whole currency units, and the ISO 4217 currency code, which must be the billing account's currency (null: the billing account's currency)."
  type = object({
    currency_code = optional(string)
    units         = number
  })
  nullable = false

  validation {
    condition     = var.amount.units > 0 && floor(var.amount.units) == var.amount.units
    error_message = "amount.units must be a whole number of currency units greater than 0, such as 500."
  }
  validation {
    condition     = var.amount.currency_code == null ? true : can(regex("^[A-Z]{3}$", var.amount.currency_code))
    error_message = "amount.currency_code must be an upper-case ISO 4217 code such as \"EUR\" or \"USD\" (the billing account's currency), or null."
  }
}

variable "billing_account_id" {
  description = "Billing account that pays for the project, such as \"012345-6789AB-CDEF01\" (gcloud billing projects describe <project_id>). The budget lives on it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "billing_account_id must look like \"012345-6789AB-CDEF01\": three groups of six upper-case hexadecimal characters, without the \"billingAccounts/\" prefix."
  }
}

variable "labels" {
  description = "Labels merged into every labelled resource (the notification channels' user labels; budgets take no labels)."
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

variable "notifications" {
  description = <<-EOT
    Who hears about the budget. emails: name => address; each becomes a Cloud Monitoring email
    notification channel in project_id attached to the budget. channels: ids of existing email
    channels to attach as well (the monitoring module's email_channels). At most 5 together,
    the API's limit. disable_default_iam_recipients: stop the default emails to the billing
    account's Billing Account Administrators and Users (needs at least one email or channel).
  EOT
  type = object({
    channels                       = optional(list(string), [])
    disable_default_iam_recipients = optional(bool, false)
    emails                         = optional(map(string), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for e in values(var.notifications.emails) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notifications.emails values must be email addresses such as \"finops@example.com\"."
  }
  validation {
    condition     = alltrue([for k in keys(var.notifications.emails) : can(regex("^[a-z][a-z0-9-]{0,29}$", k))])
    error_message = "notifications.emails keys must be short names of lower-case letters, digits and hyphens, starting with a letter, such as \"finops\"."
  }
  validation {
    condition     = length(var.notifications.emails) + length(var.notifications.channels) <= 5
    error_message = "notifications.emails and notifications.channels may hold at most 5 together (a budget takes at most 5 monitoring notification channels); use a group address for more people."
  }
  validation {
    condition     = alltrue([for c in var.notifications.channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "notifications.channels must be notification channel ids such as \"projects/my-project/notificationChannels/123\" (the monitoring module's email_channels output)."
  }
  validation {
    condition     = !var.notifications.disable_default_iam_recipients || length(var.notifications.emails) + length(var.notifications.channels) > 0
    error_message = "notifications.disable_default_iam_recipients needs at least one address in notifications.emails or one of notifications.channels, or nobody would be told."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (the budget is \"<prefix>-kfp\", the channels \"<prefix>-budget-<name>\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-12 characters: lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)."
  }
}

variable "project_id" {
  description = "Project that holds the notification channels (the platform's project)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lower-case letters, digits and hyphens, starting with a letter), such as \"my-kfp-project\"."
  }
}

variable "project_number" {
  description = "Number of the project whose spend the budget watches (gcloud projects describe <project_id> --format='value(projectNumber)'). The Billing Budget API filters by project number; taking it as a variable avoids a data source at plan time."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]{5,19}$", var.project_number))
    error_message = "project_number must be the project's number, digits only, such as \"123456789012\" (gcloud projects describe <project_id> --format='value(projectNumber)'), not its id."
  }
}

variable "thresholds" {
  description = "Alert thresholds in percent of the amount (50 means 50 %), each list strictly ascending. current: on actual spend; forecasted: on the month's forecast."
  type = object({
    current    = optional(list(number), [50, 90, 100])
    forecasted = optional(list(number), [100])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for p in concat(var.thresholds.current, var.thresholds.forecasted) : p > 0 && p <= 1000])
    error_message = "thresholds must be percents greater than 0 and at most 1000, such as [50, 90, 100] (write 50 for 50 %, not 0.5)."
  }
  validation {
    condition = alltrue([
      for l in [var.thresholds.current, var.thresholds.forecasted] :
      alltrue([for i in range(1, max(1, length(l))) : l[i - 1] < l[i]])
    ])
    error_message = "each thresholds list must be sorted ascending without repeats, such as [50, 90, 100]."
  }
  validation {
    condition     = length(var.thresholds.current) + length(var.thresholds.forecasted) > 0
    error_message = "thresholds needs at least one percent in current or forecasted, or the budget never alerts."
  }
}
