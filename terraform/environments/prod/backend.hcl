# The state bucket from terraform/bootstrap (output state_bucket). Edit after bootstrap.
bucket = "kfp-acme-ml-prod-tfstate"
prefix = "environments/prod"
