# Security groups: the load balancer admits HTTPS (and HTTP, answered with a redirect) only from
# GitHub's webhook ranges and the dashboard's networks; the tasks admit only the load balancer on
# the runner's port; the database admits only the tasks.

locals {
  alb_ingress_cidrs = distinct(concat(var.webhook_cidrs, var.dashboard == null ? [] : var.dashboard.cidrs))
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "GitOps runner load balancer: GitHub webhooks and the dashboard's networks"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

# Internet-facing by design, but only to the CIDRs the operator lists (GitHub's `hooks` ranges);
# the variable's validation refuses 0.0.0.0/0.
#tfsec:ignore:aws-ec2-no-public-ingress-sgr
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(local.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from GitHub webhooks and the dashboard's networks"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# Port 80 only answers with a redirect to HTTPS.
#tfsec:ignore:aws-ec2-no-public-ingress-sgr
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(local.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the runner's tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "GitOps runner tasks: the load balancer in, HTTPS and the database out"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-tasks" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "The runner's port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.alb.id
}

# The runner talks HTTPS to GitHub, Slack, AWS APIs, Terraform and provider registries, ECR and
# whatever module sources the repositories name: no fixed address list exists. Port 443 only.
#tfsec:ignore:aws-ec2-no-public-egress-sgr
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to GitHub, Slack, AWS APIs and registries (through the NAT gateway)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = aws_db_instance.this.port
  to_port                      = aws_db_instance.this.port
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "GitOps runner store: PostgreSQL from the runner's tasks only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-database" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the runner's tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.tasks.id
}
