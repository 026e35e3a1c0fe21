package config

import "fmt"

// ValidEnvironmentName reports whether s can name an environment: lowercase letters, digits, '-' and '_',
// at most 63 characters.
func ValidEnvironmentName(s string) bool { return repoNameRE.MatchString(s) }

// ValidBranch reports whether b (with or without "refs/heads/") is a valid git branch name.
func ValidBranch(b string) bool { return repoValidBranch(b) }

// CheckVarName says what is wrong with a Terraform -var name, or returns nil: it must be a valid variable
// name and not one the runner sets itself.
func CheckVarName(name string) error {
	switch {
	case !repoVarNameRE.MatchString(name):
		return fmt.Errorf("%q is not a valid Terraform variable name", name)
	case repoRunnerVars[name]:
		return fmt.Errorf("%q is set by the runner", name)
	}
	return nil
}
