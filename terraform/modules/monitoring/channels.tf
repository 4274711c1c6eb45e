resource "google_monitoring_notification_channel" "email" {
  for_each = var.notifications.emails

  project      = var.project_id
  display_name = "${var.prefix}-alerts-${each.key}"
  description  = "Alerts of the ${var.prefix} KFP platform (managed by Terraform)."
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = var.labels
}

resource "google_pubsub_topic" "alerts" {
  # checkov:skip=CKV_GCP_83:incident notifications carry alert names and links, no data of the platform; Google-managed encryption is enough, and a CMEK would need a key ring the template does not run
  count = var.notifications.pubsub ? 1 : 0

  project = var.project_id
  name    = "${var.prefix}-alerts"
  labels  = var.labels
  # An incident nobody read in a week is stale; the topic does not keep it longer.
  message_retention_duration = "604800s"
}

# Cloud Monitoring publishes as its notification service agent.
resource "google_pubsub_topic_iam_member" "monitoring" {
  count = var.notifications.pubsub ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.alerts[0].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${var.project_number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

resource "google_monitoring_notification_channel" "pubsub" {
  count = var.notifications.pubsub ? 1 : 0

  project      = var.project_id
  display_name = "${var.prefix}-alerts-pubsub"
  description  = "Every incident of ${var.prefix}, published to ${google_pubsub_topic.alerts[0].id} (managed by Terraform)."
  type         = "pubsub"
  labels = {
    topic = google_pubsub_topic.alerts[0].id
  }
  user_labels = var.labels

  depends_on = [google_pubsub_topic_iam_member.monitoring]
}

resource "google_monitoring_notification_channel" "webhook" {
  count = var.notifications.webhook_url == null ? 0 : 1

  project      = var.project_id
  display_name = "${var.prefix}-alerts-webhook"
  description  = "Every incident of ${var.prefix} as JSON to a webhook (managed by Terraform)."
  type         = "webhook_tokenauth"
  labels = {
    url = var.notifications.webhook_url
  }
  user_labels = var.labels
}

locals {
  channels = concat(
    [for k in sort(keys(google_monitoring_notification_channel.email)) : google_monitoring_notification_channel.email[k].id],
    google_monitoring_notification_channel.pubsub[*].id,
    google_monitoring_notification_channel.webhook[*].id,
  )
}
