"""The service layer: what the CLI commands do, testable without the CLI."""
