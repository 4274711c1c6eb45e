# No resources: this module only types and validates the outputs contract.
