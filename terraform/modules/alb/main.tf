# An application load balancer with TLS on every listener: HTTPS forwarding to one target
# group, optionally HTTP answering only with a redirect to HTTPS, access logs, and alias
# records that publish its names.

# Public by design where the caller says so (the frontend's entry point); the API's
# call sets internal = true, which tests/infra asserts on every environment's plan.
#tfsec:ignore:aws-elb-alb-not-public
resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = var.internal
  subnets            = var.subnet_ids
  security_groups    = var.security_group_ids

  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = var.name
    enabled = true
  }

  tags = { Name = var.name }
}

resource "aws_lb_target_group" "this" {
  name                 = var.name
  vpc_id               = var.vpc_id
  target_type          = var.target_type
  protocol             = "HTTP"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = { Name = var.name }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = { Name = "${var.name}-https" }
}

resource "aws_lb_listener" "http_redirect" {
  count = var.redirect_http_to_https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = { Name = "${var.name}-http-redirect" }
}

resource "aws_route53_record" "alias" {
  for_each = { for r in var.dns_records : r.name => r }

  zone_id = each.value.zone_id
  name    = each.value.name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
