# The prod project's state bucket (the bootstrap's state_bucket output); the bootstrap's own
# state lives under prefix "bootstrap", the environment's under "environments/prod".
bucket = "kfp-acme-ml-prod-tfstate"
prefix = "bootstrap"
