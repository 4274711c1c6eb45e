"""kfp-gcp: Kubeflow Pipelines v2 on Google Cloud."""
