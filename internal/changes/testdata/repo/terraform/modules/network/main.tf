resource "terraform_data" "vpc" {
  input = templatefile("${path.module}/templates/cidr.tpl", {})
}
