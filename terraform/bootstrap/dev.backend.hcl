# The dev project's state bucket (the bootstrap's state_bucket output); the bootstrap's own
# state lives under prefix "bootstrap", the environment's under "environments/dev".
bucket = "kfp-acme-ml-dev-tfstate"
prefix = "bootstrap"
