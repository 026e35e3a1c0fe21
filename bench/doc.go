// Package bench holds end-to-end benchmarks of `runner serve` run in-process
// against real git and Terraform on 127.0.0.1; see README.md for how to run them.
package bench
