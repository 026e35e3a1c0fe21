package server

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/gitops-runner/runner/internal/plancheck"
)

// writePolicies puts the operator's policies given as text (RUNNER_POLICIES_JSON) into dir, which it
// empties first (a policy dropped from the configuration must not stay checked), and checks that they
// compile: a broken policy stops the start rather than every plan's policy step. It returns dir, to be
// checked like RUNNER_POLICY_DIR.
func writePolicies(dir string, policies map[string]string) (string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("RUNNER_POLICIES_JSON: clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("RUNNER_POLICIES_JSON: %w", err)
	}
	var modules []plancheck.Module
	for _, name := range slices.Sorted(maps.Keys(policies)) {
		// config checked the names: plain file names, no folders.
		if err := os.WriteFile(filepath.Join(dir, name), []byte(policies[name]), 0o600); err != nil {
			return "", fmt.Errorf("RUNNER_POLICIES_JSON: write %s: %w", name, err)
		}
		modules = append(modules, plancheck.Module{Path: name, Source: policies[name]})
	}
	if err := plancheck.Compile(modules); err != nil {
		return "", fmt.Errorf("RUNNER_POLICIES_JSON: %w", err)
	}
	return dir, nil
}
