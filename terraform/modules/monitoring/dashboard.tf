locals {
  # name => PromQL, laid out two per row.
  charts = merge(
    {
      "Cloud SQL CPU, memory, disk (utilisation)"           = "label_replace(cloudsql_googleapis_com:database_cpu_utilization{monitored_resource=\"cloudsql_database\",database_id=\"${local.database_id}\"}, \"what\", \"cpu\", \"\", \"\") or label_replace(cloudsql_googleapis_com:database_memory_utilization{monitored_resource=\"cloudsql_database\",database_id=\"${local.database_id}\"}, \"what\", \"memory\", \"\", \"\") or label_replace(cloudsql_googleapis_com:database_disk_utilization{monitored_resource=\"cloudsql_database\",database_id=\"${local.database_id}\"}, \"what\", \"disk\", \"\", \"\")"
      "KFP Deployments: replicas missing"                   = "sum by (deployment) (kube_deployment_spec_replicas{cluster=\"${local.cluster}\",namespace=\"${local.namespace}\"}) - sum by (deployment) (kube_deployment_status_replicas_available{cluster=\"${local.cluster}\",namespace=\"${local.namespace}\"})"
      "Container restarts in ${local.namespace} (per hour)" = "sum by (pod_name) (increase(kubernetes_io:container_restart_count{monitored_resource=\"k8s_container\",cluster_name=\"${local.cluster}\",namespace_name=\"${local.namespace}\"}[1h]))"
      "Pipeline runs by final phase (per hour)"             = "sum by (phase) (increase(argo_workflows_total_count{cluster=\"${local.cluster}\",phase=~\"Succeeded|Failed|Error\"}[1h]))"
      "Nodes per pool"                                      = "count by (node_pool) (label_replace(kubernetes_io:node_cpu_allocatable_cores{monitored_resource=\"k8s_node\",cluster_name=\"${local.cluster}\"}, \"node_pool\", \"$1\", \"node_name\", \"gke-${local.cluster}-(.+)-[0-9a-f]{8}-.*\"))"
    },
    length(var.targets.gpu_pools) == 0 ? {} : {
      "GPU duty cycle (%)" = "max by (pod_name) (kubernetes_io:container_accelerator_duty_cycle{monitored_resource=\"k8s_container\",cluster_name=\"${local.cluster}\"})"
    },
    var.targets.domain == "" ? {} : {
      "Load balancer answers by class (per second)" = "sum by (response_code_class) (rate(loadbalancing_googleapis_com:https_request_count{monitored_resource=\"https_lb_rule\",url_map_name=~\"k8s2-um-.*-${local.namespace}-kfp-ui-.*\"}[5m]))"
    },
  )
  chart_names = sort(keys(local.charts))
}

resource "google_monitoring_dashboard" "platform" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.prefix} KFP platform"
    labels      = {}
    mosaicLayout = {
      columns = 48
      tiles = [
        for i, name in local.chart_names : {
          xPos   = (i % 2) * 24
          yPos   = floor(i / 2) * 16
          width  = 24
          height = 16
          widget = {
            title = name
            xyChart = {
              dataSets = [{
                plotType        = "LINE"
                timeSeriesQuery = { prometheusQuery = local.charts[name] }
              }]
            }
          }
        }
      ]
    }
  })

  lifecycle {
    # The console adds etag and other fields after creation.
    ignore_changes = [dashboard_json]
  }
}
