# Offline: google is mocked (see ../shared/tools/tf-offline/README.md).
mock_provider "google" {
  mock_resource "google_pubsub_topic" {
    defaults = {
      id = "projects/acme-ml-dev/topics/kfpdev-alerts"
    }
  }
  mock_resource "google_monitoring_notification_channel" {
    defaults = {
      id = "projects/acme-ml-dev/notificationChannels/1234"
    }
  }
}

variables {
  project_id     = "acme-ml-dev"
  project_number = "123456789012"
  prefix         = "kfpdev"
  targets = {
    cluster_name      = "kfpdev-gke"
    cloudsql_instance = "kfpdev-kfp"
    gpu_pools         = ["gpu"]
  }
  notifications = {
    emails = { platform = "ml-platform@example.com", oncall = "oncall@example.com" }
  }
}

run "every_alert_with_what_to_do" {
  command = plan

  assert {
    condition = toset(keys(google_monitoring_alert_policy.alert)) == toset([
      "cloudsql-cpu", "cloudsql-memory", "cloudsql-disk",
      "kfp-unavailable", "kfp-restarting", "failed-runs", "gpu-idle",
    ])
    error_message = "without a domain: the three Cloud SQL alerts, KFP unavailable and restarting, failed runs and GPU idle"
  }
  assert {
    condition = alltrue([
      for p in google_monitoring_alert_policy.alert :
      strcontains(p.documentation[0].content, "**What to do**") &&
      strcontains(p.documentation[0].content, "docs/operations.md") &&
      p.documentation[0].mime_type == "text/markdown" &&
      p.documentation[0].subject == p.display_name
    ])
    error_message = "every alert's documentation must say what to do and point at the runbook"
  }
  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.alert : p.enabled && p.combiner == "OR" && length(p.conditions) == 1])
    error_message = "a running environment's alerts are enabled, one condition each"
  }
  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.alert : startswith(p.display_name, "kfpdev: ")])
    error_message = "policy names start with the prefix"
  }
}

run "cloud_sql_thresholds_watch_the_instance" {
  command = plan

  variables {
    thresholds = { cloudsql_cpu = 0.7 }
  }

  assert {
    condition = alltrue([
      for k in ["cpu", "memory", "disk"] :
      strcontains(google_monitoring_alert_policy.alert["cloudsql-${k}"].conditions[0].condition_threshold[0].filter, "resource.labels.database_id = \"acme-ml-dev:kfpdev-kfp\"") &&
      strcontains(google_monitoring_alert_policy.alert["cloudsql-${k}"].conditions[0].condition_threshold[0].filter, "metric.type = \"cloudsql.googleapis.com/database/${k}/utilization\"") &&
      google_monitoring_alert_policy.alert["cloudsql-${k}"].conditions[0].condition_threshold[0].duration == "600s"
    ])
    error_message = "each Cloud SQL alert must watch its utilisation metric on this instance for 10 minutes"
  }
  assert {
    condition = (
      google_monitoring_alert_policy.alert["cloudsql-cpu"].conditions[0].condition_threshold[0].threshold_value == 0.7 &&
      google_monitoring_alert_policy.alert["cloudsql-memory"].conditions[0].condition_threshold[0].threshold_value == 0.9 &&
      google_monitoring_alert_policy.alert["cloudsql-disk"].conditions[0].condition_threshold[0].threshold_value == 0.85
    )
    error_message = "thresholds come from var.thresholds, with the defaults for the others"
  }
}

run "kfp_argo_and_gpu_queries" {
  command = plan

  variables {
    thresholds = { gpu_idle_minutes = 45, unavailable_minutes = 15 }
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.alert["kfp-unavailable"].conditions[0].condition_prometheus_query_language[0].query, "kube_deployment_status_replicas_available{cluster=\"kfpdev-gke\",namespace=\"kubeflow\"}") &&
      google_monitoring_alert_policy.alert["kfp-unavailable"].conditions[0].condition_prometheus_query_language[0].duration == "900s"
    )
    error_message = "KFP unavailable: desired minus available replicas in kubeflow of this cluster, held for unavailable_minutes"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.alert["failed-runs"].conditions[0].condition_prometheus_query_language[0].query, "argo_workflows_total_count{cluster=\"kfpdev-gke\",phase=~\"Failed|Error\"}")
    error_message = "failed runs: Argo's per-phase workflow counter, Failed and Error"
  }
  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.alert["gpu-idle"].conditions[0].condition_prometheus_query_language[0].query, "node_name=~\"gke-kfpdev-gke-(gpu)-.*\"") &&
      strcontains(google_monitoring_alert_policy.alert["gpu-idle"].conditions[0].condition_prometheus_query_language[0].query, "kubernetes_io:container_accelerator_duty_cycle") &&
      google_monitoring_alert_policy.alert["gpu-idle"].conditions[0].condition_prometheus_query_language[0].duration == "2700s"
    )
    error_message = "GPU idle: the GPU pool's nodes up without a busy accelerator, for gpu_idle_minutes"
  }
  assert {
    condition     = length(google_monitoring_alert_policy.alert["gpu-idle"].conditions[0].condition_threshold) == 0
    error_message = "a PromQL alert has no threshold condition"
  }
}

run "paused_disables_every_alert" {
  command = plan

  variables {
    paused = true
  }

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.alert : p.enabled == false])
    error_message = "a paused environment would fire every alert on the pause itself: all must be disabled"
  }
  assert {
    condition     = length(google_monitoring_alert_policy.alert) == 7 && google_logging_project_bucket_config.default.retention_days == 30
    error_message = "pausing keeps the policies (disabled) and the log retention"
  }
}

run "domain_adds_the_load_balancer_alert_and_no_gpu_pool_drops_gpu_idle" {
  command = plan

  variables {
    targets = {
      cluster_name      = "kfpprod-gke"
      cloudsql_instance = "kfpprod-kfp"
      domain            = "kfp.example.com"
    }
  }

  assert {
    condition     = contains(keys(google_monitoring_alert_policy.alert), "lb-5xx") && !contains(keys(google_monitoring_alert_policy.alert), "gpu-idle")
    error_message = "a domain brings the 5xx alert; no GPU pool, no GPU-idle alert"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.alert["lb-5xx"].conditions[0].condition_prometheus_query_language[0].query, "response_code_class=\"500\"")
    error_message = "the 5xx alert counts the 500 class"
  }
}

run "channels_email_pubsub_webhook" {
  command = plan

  variables {
    notifications = {
      emails      = { platform = "ml-platform@example.com" }
      pubsub      = true
      webhook_url = "https://hooks.example.com/kfp"
    }
  }

  assert {
    condition     = google_monitoring_notification_channel.email["platform"].labels.email_address == "ml-platform@example.com" && google_monitoring_notification_channel.email["platform"].type == "email"
    error_message = "one email channel per address"
  }
  assert {
    condition     = google_pubsub_topic.alerts[0].name == "kfpdev-alerts" && google_monitoring_notification_channel.pubsub[0].type == "pubsub"
    error_message = "pubsub = true creates the alerts topic and its channel"
  }
  assert {
    condition     = google_pubsub_topic_iam_member.monitoring[0].member == "serviceAccount:service-123456789012@gcp-sa-monitoring-notification.iam.gserviceaccount.com" && google_pubsub_topic_iam_member.monitoring[0].role == "roles/pubsub.publisher"
    error_message = "Cloud Monitoring's notification agent (and nobody else) may publish to the topic"
  }
  assert {
    condition     = google_monitoring_notification_channel.webhook[0].type == "webhook_tokenauth" && google_monitoring_notification_channel.webhook[0].labels.url == "https://hooks.example.com/kfp"
    error_message = "webhook_url makes a webhook channel"
  }
}

run "every_alert_notifies_every_channel" {
  command = apply

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.alert : length(p.notification_channels) == 2])
    error_message = "each alert notifies both email channels"
  }
  assert {
    condition     = length(output.email_channels) == 2 && output.pubsub_topic == null
    error_message = "outputs: the email channels (for the budget), no topic without pubsub"
  }
  assert {
    condition     = length(jsondecode(google_monitoring_dashboard.platform.dashboard_json).mosaicLayout.tiles) == 6
    error_message = "the dashboard has a chart for the database, Deployments, restarts, runs, nodes and GPUs"
  }
  assert {
    condition = alltrue([
      for tile in jsondecode(google_monitoring_dashboard.platform.dashboard_json).mosaicLayout.tiles :
      tile.xPos + tile.width <= 48 && strcontains(tile.widget.xyChart.dataSets[0].timeSeriesQuery.prometheusQuery, "kfpdev")
    ])
    error_message = "tiles fit the 48-column grid and every chart queries this environment"
  }
}

run "log_retention" {
  command = plan

  variables {
    log_retention_days = 90
  }

  assert {
    condition     = google_logging_project_bucket_config.default.bucket_id == "_Default" && google_logging_project_bucket_config.default.retention_days == 90 && google_logging_project_bucket_config.default.location == "global"
    error_message = "log_retention_days sets the _Default bucket's retention"
  }
}

run "rejects_percent_thresholds" {
  command = plan
  variables {
    thresholds = { cloudsql_cpu = 80 }
  }
  expect_failures = [var.thresholds]
}

run "rejects_duty_cycle_out_of_range" {
  command = plan
  variables {
    thresholds = { gpu_idle_duty_cycle = 100 }
  }
  expect_failures = [var.thresholds]
}

run "rejects_http_webhook" {
  command = plan
  variables {
    notifications = { webhook_url = "http://hooks.example.com/kfp" }
  }
  expect_failures = [var.notifications]
}

run "rejects_bad_email" {
  command = plan
  variables {
    notifications = { emails = { platform = "not-an-address" } }
  }
  expect_failures = [var.notifications]
}

run "rejects_connection_name_as_instance" {
  command = plan
  variables {
    targets = { cluster_name = "kfpdev-gke", cloudsql_instance = "acme-ml-dev:europe-west1:kfpdev-kfp" }
  }
  expect_failures = [var.targets]
}

run "rejects_log_retention_beyond_ten_years" {
  command = plan
  variables {
    log_retention_days = 4000
  }
  expect_failures = [var.log_retention_days]
}
