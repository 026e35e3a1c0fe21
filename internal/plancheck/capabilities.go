package plancheck

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// capabilities returns what hostile policies may use: this OPA's built-in functions less the refused ones,
// and no network at all (allow_net empty: no remote JSON schema references either). A policy that calls a
// refused function does not compile: "undefined function http.send". A new value each call: OPA's types
// are not documented as read-only.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, refused)
	caps.AllowNet = []string{}
	return caps
}

// refused tells whether a policy may not call b. Every built-in function that OPA marks nondeterministic is
// refused but those that only compute: the clock, random numbers, and JWT functions (which read the clock).
// In OPA 1.22 that refuses http.send and net.lookup_ip_addr (the network), opa.runtime (the runner's
// environment variables and configuration), and json.match_schema and json.verify_schema (a schema's $ref
// loads files, and URLs). A later OPA's new nondeterministic built-in is refused until it is reviewed and
// listed here. trace is refused besides: it writes to the evaluation's tracer. (print stays callable, but
// the compiler drops every call: Check never enables print statements.)
func refused(b *ast.Builtin) bool {
	switch b.Name {
	case "trace":
		return true
	case "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw",
		"rand.intn", "time.now_ns", "uuid.rfc4122":
		return false
	}
	return b.Nondeterministic
}
