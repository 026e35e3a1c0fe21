module "network" {
  source = "../network"
}

module "network_again" {
  source = "./../network"
}
