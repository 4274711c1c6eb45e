"""Pipelines in the repository: discovery helpers, compile, parameters, local runs, the catalog."""
