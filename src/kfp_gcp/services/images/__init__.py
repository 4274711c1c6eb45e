"""Component images: build contexts, tags, registries, builders (docs/authoring.md)."""
