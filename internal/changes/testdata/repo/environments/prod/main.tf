# prod reaches network only through platform.
module "platform" {
  source = "../../terraform/modules/platform"
}
