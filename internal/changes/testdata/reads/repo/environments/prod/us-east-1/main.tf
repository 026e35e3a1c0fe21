module "web" {
  source = "../../../modules/web"

  name      = "prod-use1"
  banner    = templatefile("../../../templates/banner.tpl", { env = "prod" })
  ssh_keys  = file(var.ssh_keys_file)
}

variable "ssh_keys_file" {
  type = string
}
