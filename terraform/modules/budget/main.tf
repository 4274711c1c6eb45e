# A monthly budget on the platform's project, with alert thresholds on actual and forecast
# spend. The module always creates one; a root makes it optional with count or for_each.
# Budgets alert, they do not cap spending.

resource "google_monitoring_notification_channel" "email" {
  for_each = var.notifications.emails

  project      = var.project_id
  display_name = "${var.prefix}-budget-${each.key}"
  description  = "Budget alerts of ${var.prefix} (managed by Terraform)."
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = var.labels
}

resource "google_billing_budget" "budget" {
  billing_account = var.billing_account_id
  display_name    = "${var.prefix}-kfp"

  budget_filter {
    # The API takes the project's number here, not its id.
    projects               = ["projects/${var.project_number}"]
    calendar_period        = "MONTH"
    credit_types_treatment = "INCLUDE_ALL_CREDITS"
  }

  amount {
    specified_amount {
      currency_code = var.amount.currency_code
      units         = tostring(var.amount.units)
    }
  }

  dynamic "threshold_rules" {
    for_each = var.thresholds.current
    content {
      threshold_percent = threshold_rules.value / 100
      spend_basis       = "CURRENT_SPEND"
    }
  }

  dynamic "threshold_rules" {
    for_each = var.thresholds.forecasted
    content {
      threshold_percent = threshold_rules.value / 100
      spend_basis       = "FORECASTED_SPEND"
    }
  }

  all_updates_rule {
    monitoring_notification_channels = concat(
      [for k in sort(keys(google_monitoring_notification_channel.email)) : google_monitoring_notification_channel.email[k].id],
      var.notifications.channels,
    )
    disable_default_iam_recipients = var.notifications.disable_default_iam_recipients
  }
}
