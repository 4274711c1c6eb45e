"""The KFP composition: upstream releases (pinned, fetched, localized) and the kustomize render."""
