# TFLint for terraform/ and environments/ (run with --recursive from the repository root).
# Only the bundled terraform ruleset: no plugin downloads happen in CI.

config {
  # Evaluate local module calls, so values passed into terraform/modules/* are checked too.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

# Every variable and output says what it is for.
rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

rule "terraform_naming_convention" {
  enabled = true
}

rule "terraform_standard_module_structure" {
  enabled = true
}
