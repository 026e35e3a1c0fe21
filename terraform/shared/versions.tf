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
      Project    = var.project
      Component  = "shared"
      ManagedBy  = "terraform"
      Repository = "terraform/shared"
    }
  }
}
