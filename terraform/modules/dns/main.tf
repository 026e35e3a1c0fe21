# Names and certificates of one environment:
#   - a public hosted zone for var.domain (app.<domain> is published in it by the alb module),
#   - a private hosted zone named api.<domain>, associated with the VPC, so the API name
#     resolves to the internal load balancer inside the VPC and nowhere else,
#   - one ACM certificate per name, validated by DNS records in the public zone (the
#     internal name's validation record is public too; ACM cannot see private zones).

locals {
  app_fqdn = "${var.app_subdomain}.${var.domain}"
  api_fqdn = "${var.api_subdomain}.${var.domain}"

  certificates = {
    app = local.app_fqdn
    api = local.api_fqdn
  }
}

resource "aws_route53_zone" "public" {
  name    = var.domain
  comment = "Public names of ${var.domain}"
}

resource "aws_route53_zone" "api_private" {
  name    = local.api_fqdn
  comment = "VPC-internal name of the API (internal ALB)"

  vpc {
    vpc_id = var.vpc_id
  }
}

resource "aws_acm_certificate" "this" {
  for_each = local.certificates

  domain_name       = each.value
  validation_method = "DNS"

  tags = { Name = each.value }

  lifecycle {
    create_before_destroy = true
  }
}

# Each certificate has exactly one name, hence one validation record.
resource "aws_route53_record" "validation" {
  for_each = local.certificates

  zone_id         = aws_route53_zone.public.zone_id
  name            = one(aws_acm_certificate.this[each.key].domain_validation_options).resource_record_name
  type            = one(aws_acm_certificate.this[each.key].domain_validation_options).resource_record_type
  records         = [one(aws_acm_certificate.this[each.key].domain_validation_options).resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  for_each = local.certificates

  certificate_arn         = aws_acm_certificate.this[each.key].arn
  validation_record_fqdns = [aws_route53_record.validation[each.key].fqdn]
}
