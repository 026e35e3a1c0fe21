project     = "gitops-app"
environment = "dev"
region      = "eu-west-1"
domain      = "dev.example.com"

vpc_cidr           = "10.10.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b"]
nat_gateway_mode   = "single" # one shared NAT gateway: dev tolerates losing egress with one AZ
log_retention_days = 14

backend_cpu       = 256
backend_memory    = 512
backend_min_count = 1
backend_max_count = 2

frontend_instance_type = "t3.micro"
frontend_min_size      = 1
frontend_max_size      = 2
