output "alert_policies" {
  description = "Alert policy names (projects/<project>/alertPolicies/<id>) by key: cloudsql-cpu, cloudsql-memory, cloudsql-disk, kfp-unavailable, kfp-restarting, failed-runs, and gpu-idle and lb-5xx when they apply."
  value       = { for k, p in google_monitoring_alert_policy.alert : k => p.name }
}

output "alerts_enabled" {
  description = "Whether each alert policy is enabled, by key (false for all while paused)."
  value       = { for k, p in google_monitoring_alert_policy.alert : k => p.enabled }
}

output "dashboard_id" {
  description = "Id of the platform's dashboard."
  value       = google_monitoring_dashboard.platform.id
}

output "email_channels" {
  description = "Ids of the email notification channels, in name order (the budget takes email channels)."
  value       = [for k in sort(keys(google_monitoring_notification_channel.email)) : google_monitoring_notification_channel.email[k].id]
}

output "notification_channels" {
  description = "Ids of every notification channel the alerts use: the emails in name order, then Pub/Sub and the webhook."
  value       = local.channels
}

output "pubsub_topic" {
  description = "Id of the alerts topic (projects/<project>/topics/<prefix>-alerts), or null without notifications.pubsub."
  value       = one(google_pubsub_topic.alerts[*].id)
  depends_on  = [google_pubsub_topic_iam_member.monitoring]
}
