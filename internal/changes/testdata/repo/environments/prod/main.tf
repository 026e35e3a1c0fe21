# prod reaches network only through platform.
module "platform" {
  source = "../../terraform/modules/platform"
}

resource "terraform_data" "policy" {
  input = file("${path.module}/files/policy.json")
}
