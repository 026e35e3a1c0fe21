package plancheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"
)

// childEnv marks a process started to run one check in isolation (see Main).
const childEnv = "RUNNER_PLANCHECK_CHILD"

// ChildEnv is the variable (name=value) that makes a started runner binary run one check (see Main).
func ChildEnv() string { return childEnv + "=1" }

// childRequest is what the parent writes on the child's standard input.
type childRequest struct {
	Modules []Module      `json:"modules"`
	Plan    []byte        `json:"plan"`
	Timeout time.Duration `json:"timeout"`
}

// childReply is what the child writes on its standard output.
type childReply struct {
	Report Report        `json:"report"`
	Errors []PolicyError `json:"errors,omitempty"` // the policies' own faults
	Err    string        `json:"err,omitempty"`    // anything else
}

// maxChildInput bounds what a child reads: the policies' and the plan's bounds, with room for JSON.
const maxChildInput = 4*MaxTotalSize + 256<<20

// Main runs one check and exits when the process was started as a check's child (ChildEnv): call it first
// in main, and in TestMain of tests whose binary starts children. Policies come from pull requests: a child
// keeps OPA's compile and evaluation, whose time and memory no option bounds, out of the runner's process;
// its parent kills it at the deadline.
func Main() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(child(os.Stdin, os.Stdout))
}

func child(in io.Reader, out io.Writer) int {
	debug.SetMemoryLimit(2 << 30) // collect harder near 2 GiB; the parent's deadline ends the rest
	var req childRequest
	var reply childReply
	data, err := io.ReadAll(io.LimitReader(in, maxChildInput))
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	if err == nil {
		reply.Report, err = Check(context.Background(), req.Modules, req.Plan, Options{Timeout: req.Timeout})
	}
	var pe PolicyErrors
	switch {
	case errors.As(err, &pe):
		reply.Errors = pe
	case err != nil:
		reply.Err = err.Error()
	}
	if err := json.NewEncoder(out).Encode(reply); err != nil {
		return 1
	}
	return 0
}

// Runner starts a child process for one check: the runner binary with ChildEnv set, isolated as the
// caller sees fit. It returns the child's standard output.
type Runner func(ctx context.Context, stdin []byte) (stdout []byte, err error)

// CheckIn runs Check in a child process started by run, so that hostile policies cost the child, not the
// caller. The child gets opts.Timeout (DefaultTimeout when 0); the caller's ctx should allow a little more.
func CheckIn(ctx context.Context, run Runner, modules []Module, planJSON []byte, opts Options) (Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	in, err := json.Marshal(childRequest{Modules: modules, Plan: planJSON, Timeout: opts.Timeout})
	if err != nil {
		return Report{}, fmt.Errorf("policy check: %w", err)
	}
	stdout, err := run(ctx, in)
	if err != nil {
		return Report{}, fmt.Errorf("policy check: %w", err)
	}
	var reply childReply
	if err := json.NewDecoder(bytes.NewReader(stdout)).Decode(&reply); err != nil {
		return Report{}, fmt.Errorf("policy check: the checking process gave no answer: %w", err)
	}
	switch {
	case len(reply.Errors) > 0:
		return Report{}, PolicyErrors(reply.Errors)
	case reply.Err != "":
		return Report{}, errors.New(reply.Err)
	}
	return reply.Report, nil
}
