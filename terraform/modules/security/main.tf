# Every security group and rule of the stack in one place, so the whole request path
# can be reviewed at once:
#
#   internet --80/443--> public ALB --frontend_port--> frontend instances (nginx)
#            --443--> internal ALB --backend_port--> API tasks --database_port--> database
#
# Instances and tasks also reach AWS APIs (S3, SSM, ECR, CloudWatch Logs) and the OS
# package mirrors over HTTPS through the NAT gateways. Nothing else is open.

resource "aws_security_group" "public_alb" {
  name        = "${var.name}-public-alb"
  description = "Public ALB: HTTP/HTTPS from the internet, forwards to the frontend instances"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-public-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "frontend" {
  name        = "${var.name}-frontend"
  description = "Frontend instances: traffic from the public ALB only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-frontend" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "internal_alb" {
  name        = "${var.name}-internal-alb"
  description = "Internal API ALB: HTTPS from the frontend instances only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-internal-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "backend" {
  name        = "${var.name}-backend"
  description = "API tasks: traffic from the internal ALB only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-backend" }

  lifecycle {
    create_before_destroy = true
  }
}

# No egress rules: the database answers connections, it never opens any.
resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "PostgreSQL: connections from the API tasks only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-database" }

  lifecycle {
    create_before_destroy = true
  }
}

# --- public ALB -------------------------------------------------------------------

# The public ALB is the stack's only entry point from the internet; that is its job.
#tfsec:ignore:aws-ec2-no-public-ingress-sgr
resource "aws_vpc_security_group_ingress_rule" "public_alb_https" {
  for_each = toset(var.public_ingress_cidrs)

  security_group_id = aws_security_group.public_alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# Port 80 only answers with a redirect to HTTPS (see the alb module's listener).
#tfsec:ignore:aws-ec2-no-public-ingress-sgr
resource "aws_vpc_security_group_ingress_rule" "public_alb_http" {
  for_each = toset(var.public_ingress_cidrs)

  security_group_id = aws_security_group.public_alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "public_alb_to_frontend" {
  security_group_id            = aws_security_group.public_alb.id
  description                  = "To the frontend instances"
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_port
  to_port                      = var.frontend_port
  referenced_security_group_id = aws_security_group.frontend.id
}

# --- frontend instances -------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "frontend_from_public_alb" {
  security_group_id            = aws_security_group.frontend.id
  description                  = "nginx, from the public ALB only"
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_port
  to_port                      = var.frontend_port
  referenced_security_group_id = aws_security_group.public_alb.id
}

resource "aws_vpc_security_group_egress_rule" "frontend_to_internal_alb" {
  security_group_id            = aws_security_group.frontend.id
  description                  = "Reverse proxy of /api/ to the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.internal_alb.id
}

# S3 (bundles), SSM Session Manager and the OS package mirrors have no fixed addresses;
# HTTPS only, through the NAT gateways.
#tfsec:ignore:aws-ec2-no-public-egress-sgr
resource "aws_vpc_security_group_egress_rule" "frontend_https_out" {
  security_group_id = aws_security_group.frontend.id
  description       = "HTTPS to AWS APIs and package mirrors"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- internal ALB ------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "internal_alb_from_frontend" {
  security_group_id            = aws_security_group.internal_alb.id
  description                  = "HTTPS from the frontend instances only"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.frontend.id
}

resource "aws_vpc_security_group_egress_rule" "internal_alb_to_backend" {
  security_group_id            = aws_security_group.internal_alb.id
  description                  = "To the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.backend_port
  to_port                      = var.backend_port
  referenced_security_group_id = aws_security_group.backend.id
}

# --- API tasks ---------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "backend_from_internal_alb" {
  security_group_id            = aws_security_group.backend.id
  description                  = "API port, from the internal ALB only"
  ip_protocol                  = "tcp"
  from_port                    = var.backend_port
  to_port                      = var.backend_port
  referenced_security_group_id = aws_security_group.internal_alb.id
}

# ECR (image pulls), CloudWatch Logs, Secrets Manager (the task's secrets) and X-Ray (the
# collector sidecar) have no fixed addresses; HTTPS only, through NAT.
#tfsec:ignore:aws-ec2-no-public-egress-sgr
resource "aws_vpc_security_group_egress_rule" "backend_https_out" {
  security_group_id = aws_security_group.backend.id
  description       = "HTTPS to ECR, CloudWatch Logs, Secrets Manager and X-Ray"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The migration task runs with this group too (same task definition, command overridden).
resource "aws_vpc_security_group_egress_rule" "backend_to_database" {
  security_group_id            = aws_security_group.backend.id
  description                  = "PostgreSQL, to the database only"
  ip_protocol                  = "tcp"
  from_port                    = var.database_port
  to_port                      = var.database_port
  referenced_security_group_id = aws_security_group.database.id
}

# --- database ----------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "database_from_backend" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL, from the API tasks only"
  ip_protocol                  = "tcp"
  from_port                    = var.database_port
  to_port                      = var.database_port
  referenced_security_group_id = aws_security_group.backend.id
}
