terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "gitops-runner"
      ManagedBy = "terraform"
      # Not the environments' Repository tag: the runner is deployed by people, not by itself.
      Repository = "deploy/terraform/example"
    }
  }
}
