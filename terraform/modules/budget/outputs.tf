output "budget_id" {
  description = "Terraform id of the budget: billingAccounts/<billing account>/budgets/<budget>."
  value       = google_billing_budget.budget.id
}

output "budget_name" {
  description = "Resource name of the budget, as the Billing Budget API names it (billingAccounts/<billing account>/budgets/<budget>)."
  value       = google_billing_budget.budget.name
}

output "notification_channels" {
  description = "Monitoring notification channel ids (projects/<project>/notificationChannels/<id>) by the names given in notifications.emails."
  value       = { for k, c in google_monitoring_notification_channel.email : k => c.id }
}
