package proc

import (
	"slices"
	"strings"
)

// Inherit returns the entries of environ (KEY=value, as from os.Environ) that a subprocess may see: what any
// program needs to run at all (PATH, HOME, user, locale, time zone, temp dir, CA certificates, proxies), plus
// the variables named in names or starting with one of prefixes, in environ's order. Everything else in the
// runner's environment (its GitHub, Slack and AWS credentials, webhook secret, RUNNER_* and TF_* settings)
// stays out of reach of the tools and the code they run. The caller adds what the command needs on top.
func Inherit(environ, names, prefixes []string) []string {
	// Listed here rather than in a package variable, so that no caller can widen what everyone inherits.
	base := []string{
		"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG",
		"SSL_CERT_FILE", "SSL_CERT_DIR",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	}
	basePrefixes := []string{"LC_"}
	hasPrefix := func(k string) func(string) bool {
		return func(p string) bool { return p != "" && strings.HasPrefix(k, p) }
	}
	var env []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if slices.Contains(base, k) || slices.Contains(names, k) ||
			slices.ContainsFunc(basePrefixes, hasPrefix(k)) || slices.ContainsFunc(prefixes, hasPrefix(k)) {
			env = append(env, kv)
		}
	}
	return env
}
