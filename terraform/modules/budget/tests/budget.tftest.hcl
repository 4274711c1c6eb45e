# Offline: google is mocked (tf-offline). Notification channel ids are pinned so the budget's
# recipients can be compared.
mock_provider "google" {}

variables {
  prefix             = "kfp"
  project_id         = "demo-project"
  project_number     = "123456789012"
  billing_account_id = "012345-6789AB-CDEF01"
  amount = {
    units         = 500
    currency_code = "EUR"
  }
}

run "defaults" {
  command = plan

  assert {
    condition     = google_billing_budget.budget.billing_account == "012345-6789AB-CDEF01" && google_billing_budget.budget.display_name == "kfp-kfp"
    error_message = "the budget must sit on the billing account and be named <prefix>-kfp"
  }

  assert {
    condition     = google_billing_budget.budget.budget_filter[0].projects == toset(["projects/123456789012"])
    error_message = "the budget must be scoped to the project by number"
  }

  assert {
    condition     = google_billing_budget.budget.budget_filter[0].calendar_period == "MONTH"
    error_message = "the budget must be monthly"
  }

  assert {
    condition = (
      google_billing_budget.budget.amount[0].specified_amount[0].units == "500" &&
      google_billing_budget.budget.amount[0].specified_amount[0].currency_code == "EUR"
    )
    error_message = "the amount must be 500 EUR"
  }

  assert {
    condition = [for r in google_billing_budget.budget.threshold_rules : [r.threshold_percent, r.spend_basis]] == [
      [0.5, "CURRENT_SPEND"], [0.9, "CURRENT_SPEND"], [1, "CURRENT_SPEND"], [1, "FORECASTED_SPEND"],
    ]
    error_message = "default thresholds must be 50/90/100 % of actual spend and 100 % of forecast, as fractions"
  }

  assert {
    condition     = length(google_monitoring_notification_channel.email) == 0 && length(google_billing_budget.budget.all_updates_rule[0].monitoring_notification_channels) == 0
    error_message = "no channels by default"
  }

  assert {
    condition     = google_billing_budget.budget.all_updates_rule[0].disable_default_iam_recipients == false
    error_message = "billing admins must be told by default"
  }
}

run "email_channels" {
  command = plan

  variables {
    notifications = {
      disable_default_iam_recipients = true
      emails = {
        finops   = "finops@example.com"
        platform = "platform@example.com"
      }
    }
    thresholds = {
      current    = [25, 75, 100, 120]
      forecasted = []
    }
    labels = { environment = "dev" }
  }

  override_resource {
    target          = google_monitoring_notification_channel.email["finops"]
    override_during = plan
    values = {
      id = "projects/demo-project/notificationChannels/111"
    }
  }

  override_resource {
    target          = google_monitoring_notification_channel.email["platform"]
    override_during = plan
    values = {
      id = "projects/demo-project/notificationChannels/222"
    }
  }

  assert {
    condition = alltrue([
      google_monitoring_notification_channel.email["finops"].type == "email",
      google_monitoring_notification_channel.email["finops"].labels.email_address == "finops@example.com",
      google_monitoring_notification_channel.email["finops"].display_name == "kfp-budget-finops",
      google_monitoring_notification_channel.email["platform"].user_labels.environment == "dev",
    ])
    error_message = "each address must become an email channel named <prefix>-budget-<name>, labelled"
  }

  assert {
    condition = google_billing_budget.budget.all_updates_rule[0].monitoring_notification_channels == tolist([
      "projects/demo-project/notificationChannels/111",
      "projects/demo-project/notificationChannels/222",
    ])
    error_message = "the budget must notify exactly the created channels"
  }

  assert {
    condition     = google_billing_budget.budget.all_updates_rule[0].disable_default_iam_recipients
    error_message = "disable_default_iam_recipients must be passed through"
  }

  assert {
    condition     = [for r in google_billing_budget.budget.threshold_rules : r.threshold_percent] == [0.25, 0.75, 1, 1.2]
    error_message = "thresholds must be converted from percents to fractions"
  }

  assert {
    condition     = output.notification_channels == { finops = "projects/demo-project/notificationChannels/111", platform = "projects/demo-project/notificationChannels/222" }
    error_message = "notification_channels output must map names to channel ids"
  }
}

run "currency_of_billing_account_by_default" {
  command = plan

  variables {
    amount = { units = 100 }
  }

  assert {
    condition     = google_billing_budget.budget.amount[0].specified_amount[0].units == "100"
    error_message = "units must be passed as a string"
  }
}

run "rejects_unsorted_thresholds" {
  command = plan

  variables {
    thresholds = { current = [90, 50, 100] }
  }

  expect_failures = [var.thresholds]
}

run "rejects_repeated_thresholds" {
  command = plan

  variables {
    thresholds = { current = [50, 50] }
  }

  expect_failures = [var.thresholds]
}

run "rejects_zero_threshold" {
  command = plan

  variables {
    thresholds = { current = [0, 50] }
  }

  expect_failures = [var.thresholds]
}

run "rejects_huge_threshold" {
  command = plan

  variables {
    thresholds = { forecasted = [100, 5000] }
  }

  expect_failures = [var.thresholds]
}

run "rejects_no_thresholds" {
  command = plan

  variables {
    thresholds = { current = [], forecasted = [] }
  }

  expect_failures = [var.thresholds]
}

run "rejects_bad_billing_account_id" {
  command = plan

  variables {
    billing_account_id = "billingAccounts/012345-6789AB-CDEF01"
  }

  expect_failures = [var.billing_account_id]
}

run "rejects_lower_case_billing_account_id" {
  command = plan

  variables {
    billing_account_id = "012345-6789ab-cdef01"
  }

  expect_failures = [var.billing_account_id]
}

run "rejects_project_id_as_number" {
  command = plan

  variables {
    project_number = "demo-project"
  }

  expect_failures = [var.project_number]
}

run "rejects_fractional_amount" {
  command = plan

  variables {
    amount = { units = 99.5 }
  }

  expect_failures = [var.amount]
}

run "rejects_lower_case_currency" {
  command = plan

  variables {
    amount = { units = 100, currency_code = "eur" }
  }

  expect_failures = [var.amount]
}

run "rejects_silent_budget" {
  command = plan

  variables {
    notifications = { disable_default_iam_recipients = true }
  }

  expect_failures = [var.notifications]
}

run "rejects_more_than_five_channels" {
  command = plan

  variables {
    notifications = {
      emails = { a = "a@example.com", b = "b@example.com", c = "c@example.com", d = "d@example.com", e = "e@example.com", f = "f@example.com" }
    }
  }

  expect_failures = [var.notifications]
}

run "rejects_bad_email" {
  command = plan

  variables {
    notifications = { emails = { finops = "finops" } }
  }

  expect_failures = [var.notifications]
}

# The monitoring module's email channels reach the budget too, after the budget's own.
run "existing_channels" {
  command = plan

  variables {
    notifications = {
      disable_default_iam_recipients = true
      emails                         = { finops = "finops@example.com" }
      channels                       = ["projects/demo-project/notificationChannels/900"]
    }
  }

  override_resource {
    target          = google_monitoring_notification_channel.email["finops"]
    override_during = plan
    values = {
      id = "projects/demo-project/notificationChannels/111"
    }
  }

  assert {
    condition = google_billing_budget.budget.all_updates_rule[0].monitoring_notification_channels == tolist([
      "projects/demo-project/notificationChannels/111",
      "projects/demo-project/notificationChannels/900",
    ])
    error_message = "the budget must notify its own channels, then the given ones"
  }
}

run "channels_alone_are_enough_recipients" {
  command = plan

  variables {
    notifications = {
      disable_default_iam_recipients = true
      channels                       = ["projects/demo-project/notificationChannels/900"]
    }
  }

  assert {
    condition     = length(google_monitoring_notification_channel.email) == 0
    error_message = "no email channel of its own without emails"
  }
}

run "rejects_more_than_five_channels_together" {
  command = plan

  variables {
    notifications = {
      emails   = { a = "a@example.com", b = "b@example.com", c = "c@example.com" }
      channels = ["projects/p/notificationChannels/1", "projects/p/notificationChannels/2", "projects/p/notificationChannels/3"]
    }
  }

  expect_failures = [var.notifications]
}

run "rejects_channel_that_is_not_an_id" {
  command = plan

  variables {
    notifications = { channels = ["ml-platform@example.com"] }
  }

  expect_failures = [var.notifications]
}
