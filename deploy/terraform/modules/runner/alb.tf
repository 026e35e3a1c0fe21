# The load balancer: HTTPS with the operator's certificate, HTTP only redirects. It passes on
# exactly POST /webhooks/github and GET /healthz, /readyz; with `dashboard`, the dashboard and its
# API too, after the load balancer's OpenID Connect sign-in. Anything else gets a fixed 404.

locals {
  # The dashboard's pages and the API they call (README, the endpoint table), in two rules: a rule
  # takes five path values at most. /metrics, /slack/* and every other path stay unreachable.
  dashboard_paths = {
    pages = { priority = 30, paths = ["/", "/runs/*", "/environments", "/locks", "/approvals"] }
    api   = { priority = 31, paths = ["/api/*", "/static/*"] }
  }
}

# Internet-facing by design: GitHub delivers webhooks from the internet. Its security group admits
# only var.webhook_cidrs and the dashboard's CIDRs.
#tfsec:ignore:aws-elb-alb-not-public
resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  enable_deletion_protection = var.load_balancer_deletion_protection
  # Live logs stream by Server-Sent Events; keep idle connections a while.
  idle_timeout = 300

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = { Name = var.name }
}

resource "aws_lb_target_group" "runner" {
  name                 = var.name
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = local.port
  deregistration_delay = 90

  # /readyz: 503 while the database does not answer or the workers are stopped (also while a
  # replica drains on SIGTERM).
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = { Name = var.name }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
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

  tags = { Name = "${var.name}-http" }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }

  tags = { Name = "${var.name}-https" }
}

resource "aws_lb_listener_rule" "webhook" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.runner.arn
  }

  condition {
    http_request_method {
      values = ["POST"]
    }
  }

  condition {
    path_pattern {
      values = ["/webhooks/github"]
    }
  }

  tags = { Name = "${var.name}-webhook" }
}

resource "aws_lb_listener_rule" "health" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.runner.arn
  }

  condition {
    http_request_method {
      values = ["GET", "HEAD"]
    }
  }

  condition {
    path_pattern {
      values = ["/healthz", "/readyz"]
    }
  }

  tags = { Name = "${var.name}-health" }
}

resource "aws_lb_listener_rule" "dashboard" {
  for_each = var.dashboard == null ? {} : local.dashboard_paths

  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority

  action {
    type = "authenticate-oidc"
    authenticate_oidc {
      issuer                     = var.dashboard.issuer
      authorization_endpoint     = var.dashboard.authorization_endpoint
      token_endpoint             = var.dashboard.token_endpoint
      user_info_endpoint         = var.dashboard.user_info_endpoint
      client_id                  = var.dashboard.client_id
      client_secret              = var.dashboard_oidc_client_secret
      on_unauthenticated_request = "authenticate"
      session_timeout            = 28800
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.runner.arn
  }

  condition {
    path_pattern {
      values = each.value.paths
    }
  }

  tags = { Name = "${var.name}-dashboard-${each.key}" }

  lifecycle {
    precondition {
      condition     = var.dashboard_oidc_client_secret != null
      error_message = "dashboard_oidc_client_secret is required with dashboard."
    }
  }
}
