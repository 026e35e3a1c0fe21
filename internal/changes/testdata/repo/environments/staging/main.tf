module "a" {
  source = "../../terraform/modules/cycle-a"
}
