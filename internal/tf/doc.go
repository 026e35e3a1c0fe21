// Package tf runs Terraform (or OpenTofu) for one environment of one run: init, plan, show, apply and
// outputs over hashicorp/terraform-exec, and summarises saved plans from their JSON form for PR comments.
package tf
