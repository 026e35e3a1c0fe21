# The instance role: read the frontend bundles (and nothing else in the bucket), decrypt
# them, and SSM Session Manager for shell access instead of SSH (no key pair, no port 22).

data "aws_partition" "current" {}

resource "aws_iam_role" "this" {
  name        = "${local.asg_name}-instance"
  description = "Frontend instances of ${var.name}: bundle read and SSM"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# The wildcard is the bundle objects under frontend/ of the artifacts bucket (one per version).
#tfsec:ignore:aws-iam-no-policy-wildcards
resource "aws_iam_role_policy" "read_bundles" {
  name = "read-frontend-bundles"
  role = aws_iam_role.this.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadFrontendBundles"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${var.artifacts_bucket_arn}/frontend/*"
      },
      {
        Sid      = "DecryptBundles"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.artifacts_kms_key_arn
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${local.asg_name}-instance"
  role = aws_iam_role.this.name
}
