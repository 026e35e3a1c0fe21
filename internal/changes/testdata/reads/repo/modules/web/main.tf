variable "name" {
  type = string
}

variable "banner" {
  type = string
}

variable "ssh_keys" {
  type = string
}

resource "aws_launch_template" "web" {
  name      = var.name
  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tpl", {
    banner = var.banner
    keys   = var.ssh_keys
  }))

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume"])
    content {
      resource_type = tag_specifications.value
      tags          = jsondecode(file("${path.module}/tags.json"))
    }
  }
}

resource "aws_iam_policy" "web" {
  for_each = fileset(path.module, "policies/*.json")
  name     = "${var.name}-${trimsuffix(each.value, ".json")}"
  policy   = file("${path.module}/${each.value}")
}
