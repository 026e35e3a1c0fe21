package config

import (
	"fmt"
	"strings"
)

// RepoProblem is one problem found in a repository configuration.
type RepoProblem struct {
	File string // "" when parsing bytes
	Line int    // 0 when unknown
	Msg  string
}

func (p *RepoProblem) Error() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// RepoErrors lists every problem found in a repository configuration, in file order.
// errors.As(err, &*RepoProblem) finds the first one.
type RepoErrors []*RepoProblem

func (e RepoErrors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.Is/As access to each problem.
func (e RepoErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, p := range e {
		out[i] = p
	}
	return out
}

func (e RepoErrors) withFile(file string) RepoErrors {
	for _, p := range e {
		if p.File == "" {
			p.File = file
		}
	}
	return e
}
