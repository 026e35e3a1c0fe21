//go:build !linux

package tf

// killLeftovers is a no-op where there is no /proc to find the processes by; see leftovers_linux.go.
func killLeftovers(key, value string) int { return 0 }
