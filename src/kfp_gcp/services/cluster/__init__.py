"""The GKE cluster and Secret Manager: credentials, kubectl, applying rendered manifests."""
