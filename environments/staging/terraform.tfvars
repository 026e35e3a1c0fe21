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

# PostgreSQL: prod's engine and settings on a smaller instance in one zone.
db_instance_class               = "db.t4g.small"
db_allocated_storage            = 20
db_max_allocated_storage        = 100
db_multi_az                     = false
db_backup_retention_days        = 7
db_deletion_protection          = false
db_skip_final_snapshot          = false
db_performance_insights_enabled = true
db_connections_alarm_threshold  = 150 # max_connections is about 190 on 2 GiB

waf_mode       = "block" # as in prod, so a false positive shows here first
waf_rate_limit = 2000

xray_sampling_rate = 0.2
