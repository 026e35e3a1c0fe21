project     = "gitops-app"
environment = "staging"
region      = "eu-west-1"
domain      = "staging.example.com"

vpc_cidr           = "10.20.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b"]
nat_gateway_mode   = "per_az" # same topology as prod, on two zones
log_retention_days = 30

backend_cpu       = 256
backend_memory    = 512
backend_min_count = 2
backend_max_count = 4

frontend_instance_type = "t3.small"
frontend_min_size      = 2
frontend_max_size      = 4
