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

# PostgreSQL: the smallest instance, one zone, a day of backups, disposable.
db_instance_class               = "db.t4g.micro"
db_allocated_storage            = 20
db_max_allocated_storage        = 50
db_multi_az                     = false
db_backup_retention_days        = 1
db_deletion_protection          = false
db_skip_final_snapshot          = true
db_performance_insights_enabled = false
db_connections_alarm_threshold  = 60 # max_connections is about 80 on 1 GiB

waf_mode       = "count" # managed rules and the rate limit only count here: find false positives before staging
waf_rate_limit = 2000

xray_sampling_rate = 0.5
