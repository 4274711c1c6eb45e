"""Operating the platform: what the CI workflows need beyond plain commands."""
