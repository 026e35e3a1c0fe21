module "b" {
  source = "../cycle-b"
}
