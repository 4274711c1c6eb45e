# The alert policies. Every one names what to do in its documentation (shown in the
# incident and the notification); docs/operations.md has the same list with more detail.
# Queries are PromQL on Cloud Monitoring: GKE system metrics (kubernetes_io:...), the
# kube state metrics of Deployments and Argo's workflow-controller metrics come through
# Managed Service for Prometheus (the manifests' monitoring component scrapes Argo).

locals {
  runbook = "docs/operations.md in the platform repository"
  t       = var.thresholds

  cloudsql = {
    for key, spec in {
      cpu    = { metric = "cpu/utilization", threshold = local.t.cloudsql_cpu, what = "CPU" }
      memory = { metric = "memory/utilization", threshold = local.t.cloudsql_memory, what = "memory" }
      disk   = { metric = "disk/utilization", threshold = local.t.cloudsql_disk, what = "disk" }
    } :
    "cloudsql-${key}" => {
      display_name = "${var.prefix}: Cloud SQL ${spec.what} above ${spec.threshold * 100}%"
      severity     = key == "disk" ? "CRITICAL" : "WARNING"
      threshold = {
        filter    = "resource.type = \"cloudsql_database\" AND resource.labels.database_id = \"${local.database_id}\" AND metric.type = \"cloudsql.googleapis.com/database/${spec.metric}\""
        value     = spec.threshold
        duration  = "600s"
        alignment = "ALIGN_MEAN"
      }
      promql = null
      content = join("\n", [
        "KFP's database ${var.targets.cloudsql_instance} has used more than ${spec.threshold * 100}% of its ${spec.what} for 10 minutes.",
        "",
        "**What to do**",
        key == "disk" ? join("\n", [
          "1. The disk grows by itself (autoresize), unless it reached the autoresize limit: check Cloud SQL > ${var.targets.cloudsql_instance} > Storage.",
          "2. Binary logs for point-in-time recovery count against the disk: fewer days of them (cloudsql.backup.transaction_log_retention_days) frees space.",
          "3. Large KFP tables (run details, pipeline specs) grow with every run: archive or delete old runs and experiments in the KFP UI.",
          ]) : join("\n", [
          "1. Look at Cloud SQL > ${var.targets.cloudsql_instance} > Query insights and at the KFP API server's logs for what runs now (a burst of runs, a large listing).",
          "2. If it is the steady load, give the instance a larger tier (cloudsql.tier in the environment's terraform.tfvars.json), plan and apply: the change restarts the instance for a few minutes.",
        ]),
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
  }

  kfp = {
    "kfp-unavailable" = {
      display_name = "${var.prefix}: a KFP Deployment is unavailable"
      severity     = "ERROR"
      threshold    = null
      promql = {
        query    = "sum by (deployment) (kube_deployment_spec_replicas{cluster=\"${local.cluster}\",namespace=\"${local.namespace}\"}) - sum by (deployment) (kube_deployment_status_replicas_available{cluster=\"${local.cluster}\",namespace=\"${local.namespace}\"}) > 0"
        duration = "${local.t.unavailable_minutes * 60}s"
      }
      content = join("\n", [
        "A Deployment in ${local.namespace} has had fewer available replicas than desired for ${local.t.unavailable_minutes} minutes (the label `deployment` names it).",
        "",
        "**What to do**",
        "1. `kubectl -n ${local.namespace} describe deployment <name>` and its pods' events: Pending (no node: the node pool's quota or Spot capacity), CrashLoopBackOff (its logs), ImagePullBackOff (registry or NAT).",
        "2. ml-pipeline, cache-server, metadata-grpc-deployment waiting for the database: check the cloudsql-proxy pods' logs and that Cloud SQL runs.",
        "3. After a fix, `kfp-gcp manifests apply --env ENV` reconciles and waits for every Deployment.",
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
    "kfp-restarting" = {
      display_name = "${var.prefix}: KFP containers restarting"
      severity     = "WARNING"
      threshold    = null
      promql = {
        query    = "sum by (pod_name, container_name) (increase(kubernetes_io:container_restart_count{monitored_resource=\"k8s_container\",cluster_name=\"${local.cluster}\",namespace_name=\"${local.namespace}\"}[1h])) >= ${local.t.restarts_per_hour}"
        duration = "0s"
      }
      content = join("\n", [
        "A container in ${local.namespace} restarted ${local.t.restarts_per_hour} or more times within an hour (labels `pod_name`, `container_name`).",
        "",
        "**What to do**",
        "1. `kubectl -n ${local.namespace} logs <pod> -c <container> --previous` shows why the last run ended; `describe pod` shows OOMKilled (raise its memory) or failed probes.",
        "2. metadata-grpc-deployment restarting: ML Metadata cannot log in to MySQL (docs/manifests.md, \"ML Metadata's MySQL user\").",
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
    "failed-runs" = {
      display_name = "${var.prefix}: pipeline runs failing"
      severity     = "WARNING"
      threshold    = null
      promql = {
        # Argo's counter of workflows entering each phase (docs/metrics.md at v3.6.7 and v4.0.5).
        query    = "sum(increase(argo_workflows_total_count{cluster=\"${local.cluster}\",phase=~\"Failed|Error\"}[1h])) >= ${local.t.failed_runs_per_hour}"
        duration = "0s"
      }
      content = join("\n", [
        "${local.t.failed_runs_per_hour} or more pipeline runs (Argo workflows) ended Failed or Error within the last hour.",
        "",
        "**What to do**",
        "1. Open the KFP UI's Runs page, sorted by time: the failed run's graph names the step; its logs are in the step's Logs tab, and in Cloud Logging after the pod is gone.",
        "2. Many at once: look for a shared cause (a node pool that cannot scale: quota or Spot capacity; the artifact bucket's permissions; an image that cannot be pulled).",
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
  }

  gpu = length(var.targets.gpu_pools) == 0 ? {} : {
    "gpu-idle" = {
      display_name = "${var.prefix}: GPU node idle for ${local.t.gpu_idle_minutes} minutes"
      severity     = "WARNING"
      threshold    = null
      promql = {
        # A GPU node exists, and no container keeps an accelerator busier than the threshold.
        query    = "count(kubernetes_io:node_cpu_allocatable_cores{monitored_resource=\"k8s_node\",cluster_name=\"${local.cluster}\",node_name=~\"${local.gpu_node_pattern}\"}) > 0 unless on() (max(kubernetes_io:container_accelerator_duty_cycle{monitored_resource=\"k8s_container\",cluster_name=\"${local.cluster}\"}) > ${local.t.gpu_idle_duty_cycle})"
        duration = "${local.t.gpu_idle_minutes * 60}s"
      }
      content = join("\n", [
        "A node of the GPU pool (${join(", ", sort(tolist(var.targets.gpu_pools)))}) has run for ${local.t.gpu_idle_minutes} minutes while no container kept an accelerator more than ${local.t.gpu_idle_duty_cycle}% busy. GPU nodes are the most expensive part of the platform.",
        "",
        "**What to do**",
        "1. `kubectl get pods -A -o wide --field-selector spec.nodeName=<node>`: a finished step's pod that did not go away, a notebook or a stuck step holding the GPU, or a pod without a GPU request that tolerates the GPU taint keeps the node up.",
        "2. Stop or delete what holds it (terminate the KFP run); the autoscaler removes an empty node after about 10 minutes.",
        "3. Nothing runs there and the node stays: the cluster autoscaler's events (`kubectl -n kube-system describe configmap cluster-autoscaler-status`) say why it does not scale down.",
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
  }

  lb = var.targets.domain == "" ? {} : {
    "lb-5xx" = {
      display_name = "${var.prefix}: 5xx answers on ${var.targets.domain}"
      severity     = "ERROR"
      threshold    = null
      promql = {
        # The GKE Ingress's URL map is named k8s2-um-<cluster id>-<namespace>-kfp-ui-<hash>.
        query    = "sum(rate(loadbalancing_googleapis_com:https_request_count{monitored_resource=\"https_lb_rule\",url_map_name=~\"k8s2-um-.*-${local.namespace}-kfp-ui-.*\",response_code_class=\"500\"}[5m])) / sum(rate(loadbalancing_googleapis_com:https_request_count{monitored_resource=\"https_lb_rule\",url_map_name=~\"k8s2-um-.*-${local.namespace}-kfp-ui-.*\"}[5m])) > ${local.t.lb_5xx_ratio}"
        duration = "300s"
      }
      content = join("\n", [
        "More than ${local.t.lb_5xx_ratio * 100}% of the answers at https://${var.targets.domain} were 5xx for 5 minutes.",
        "",
        "**What to do**",
        "1. 502 with \"failed_to_pick_backend\" in the load balancer's logs: the UI's pods are not ready or the NEG health check fails: `kubectl -n ${local.namespace} get pods -l app=ml-pipeline-ui` and the BackendConfig's health check.",
        "2. 5xx from the backend: the UI's logs, and the API server behind it (ml-pipeline).",
        "3. After a certificate or IP change: `kubectl -n ${local.namespace} describe managedcertificate kfp-ui`.",
        "",
        "Runbook: ${local.runbook}, \"Alerts\".",
      ])
    }
  }

  policies = merge(local.cloudsql, local.kfp, local.gpu, local.lb)
}

resource "google_monitoring_alert_policy" "alert" {
  for_each = local.policies

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  severity              = each.value.severity
  enabled               = !var.paused
  notification_channels = local.channels
  user_labels           = var.labels

  conditions {
    display_name = each.value.display_name

    dynamic "condition_threshold" {
      for_each = each.value.threshold == null ? [] : [each.value.threshold]
      content {
        filter          = condition_threshold.value.filter
        comparison      = "COMPARISON_GT"
        threshold_value = condition_threshold.value.value
        duration        = condition_threshold.value.duration

        aggregations {
          alignment_period   = "60s"
          per_series_aligner = condition_threshold.value.alignment
        }
      }
    }

    dynamic "condition_prometheus_query_language" {
      for_each = each.value.promql == null ? [] : [each.value.promql]
      content {
        query               = condition_prometheus_query_language.value.query
        duration            = condition_prometheus_query_language.value.duration
        evaluation_interval = "60s"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    subject   = each.value.display_name
    content   = each.value.content
    mime_type = "text/markdown"
  }
}
