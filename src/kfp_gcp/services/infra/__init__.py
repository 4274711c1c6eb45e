"""Terraform for an environment: plan, apply, the outputs contract, the destroy guard, cost."""
