resource "terraform_data" "nobody" {}
