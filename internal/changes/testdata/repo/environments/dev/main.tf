module "network" {
  source = "../../terraform/modules/network"
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.0"
}

module "remote" {
  source = "git::https://example.com/modules.git//network?ref=v1"
}
