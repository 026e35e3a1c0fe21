module "a" {
  source = "../cycle-a"
}
