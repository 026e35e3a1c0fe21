project     = "gitops-app"
environment = "prod"
region      = "eu-west-1"
domain      = "example.com"

vpc_cidr           = "10.30.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
nat_gateway_mode   = "per_az" # one NAT gateway per zone: a zone outage does not cut egress
log_retention_days = 90

backend_cpu       = 512
backend_memory    = 1024
backend_min_count = 3
backend_max_count = 12

frontend_instance_type = "t3.small"
frontend_min_size      = 3
frontend_max_size      = 9

deletion_protection = true
