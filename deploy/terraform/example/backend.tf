# The runner's own state, in the bucket and lock table of terraform/bootstrap, under its own key.
terraform {
  backend "s3" {
    bucket         = "gitops-app-terraform-state"
    key            = "runner/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "gitops-app-terraform-locks"
    encrypt        = true
  }
}
