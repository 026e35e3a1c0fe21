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

# PostgreSQL: Multi-AZ (automatic failover), two weeks of point-in-time recovery, protected.
db_instance_class               = "db.m7g.large"
db_allocated_storage            = 50
db_max_allocated_storage        = 200
db_multi_az                     = true
db_backup_retention_days        = 14
db_deletion_protection          = true
db_skip_final_snapshot          = false
db_performance_insights_enabled = true
db_connections_alarm_threshold  = 600 # max_connections is about 800 on 8 GiB

waf_mode       = "block"
waf_rate_limit = 2000

xray_sampling_rate = 0.05
