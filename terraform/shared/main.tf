# Account-level resources every environment uses, applied after terraform/bootstrap and before
# any environment: the one ECR repository the runner pushes the backend image to. The runner
# builds the image once per merge and promotes the same digest dev -> staging -> prod; each
# environment only looks the repository up (data "aws_ecr_repository" in app-stack).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The repository's own key, not an environment's: destroying an environment must not make the
# images the other environments run unreadable. Pulls need no KMS permission (ECR decrypts
# through the grant it creates on this key), so the policy only delegates to IAM in the account.
resource "aws_kms_key" "images" {
  description             = "ECR repository ${var.repository_name}: images at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountIAMPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  tags = { Name = "${var.project}-images" }
}

resource "aws_kms_alias" "images" {
  name          = "alias/${var.project}-images"
  target_key_id = aws_kms_key.images.key_id
}

module "ecr" {
  source = "../modules/ecr"

  name                 = var.repository_name
  kms_key_arn          = aws_kms_key.images.arn
  keep_image_count     = var.keep_image_count
  untagged_expiry_days = var.untagged_expiry_days
}
