# EC2 instances running nginx: they serve the React bundle and reverse-proxy /api/ to the
# internal API load balancer. They sit in private subnets behind a public HTTPS load
# balancer (nested alb module) and are reached for administration through SSM only.

data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

data "aws_region" "current" {}

locals {
  asg_name = "${var.name}-frontend"
  ami_id   = var.ami_id != null ? var.ami_id : data.aws_ssm_parameter.al2023[0].insecure_value

  # The nginx server block is shared with the apps (the browser test runs real nginx with it).
  nginx_conf = templatefile("${path.module}/../../../apps/frontend/nginx/app.conf.tpl", {
    listen_port  = var.listen_port
    web_root     = var.web_root
    api_upstream = var.api_upstream
  })

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region           = data.aws_region.current.region
    artifacts_bucket = var.artifacts_bucket
    frontend_version = var.frontend_version
    web_root         = var.web_root
    nginx_conf       = local.nginx_conf
  })
}

resource "aws_launch_template" "this" {
  name                   = local.asg_name
  description            = "Frontend instances of ${var.name}; serves bundle ${var.frontend_version}"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [var.instance_security_group_id]
  user_data              = base64encode(local.user_data)
  ebs_optimized          = true
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  # IMDSv2 only; one hop, so nothing but the host itself can reach the credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = local.asg_name }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = local.asg_name }
  }

  tags = { Name = local.asg_name }
}

module "alb" {
  source = "../alb"

  name                   = local.asg_name
  internal               = false
  vpc_id                 = var.vpc_id
  subnet_ids             = var.public_subnet_ids
  security_group_ids     = [var.alb_security_group_id]
  certificate_arn        = var.certificate_arn
  redirect_http_to_https = true
  target_type            = "instance"
  target_port            = var.listen_port
  health_check_path      = "/healthz"
  access_logs_bucket     = var.access_logs_bucket
  deletion_protection    = var.deletion_protection

  dns_records = [{ zone_id = var.public_zone_id, name = var.app_fqdn }]
}

# Instance refresh is left to the runner: after an apply that changed the launch template
# it starts a refresh (min healthy %, warm-up, auto-rollback) and reports its progress.
# Auto-rollback needs an explicit launch template version, hence latest_version below
# rather than $Latest.
resource "aws_autoscaling_group" "this" {
  name                      = local.asg_name
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.min_size
  health_check_type         = "ELB"
  health_check_grace_period = 300
  default_instance_warmup   = 120
  target_group_arns         = [module.alb.target_group_arn]
  termination_policies      = ["OldestLaunchTemplate", "OldestInstance"]
  wait_for_capacity_timeout = "0"

  enabled_metrics = [
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupMinSize",
    "GroupMaxSize",
    "GroupTotalInstances",
  ]

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_maintenance_policy {
    min_healthy_percentage = 100
    max_healthy_percentage = 200
  }

  tag {
    key                 = "Name"
    value               = local.asg_name
    propagate_at_launch = true
  }

  lifecycle {
    # The scaling policies own the desired capacity once the group exists.
    ignore_changes = [desired_capacity]
  }
}
