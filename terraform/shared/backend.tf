# State lives in the bucket and lock table created by terraform/bootstrap, beside the environments'.
terraform {
  backend "s3" {
    bucket         = "gitops-app-terraform-state"
    key            = "shared/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "gitops-app-terraform-locks"
    encrypt        = true
  }
}
