package web

import (
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// exposure decides who may reach the API and the dashboard.
//
// With a token, the token is the whole control: any client, under any Host, that presents it is
// served. A Host check would add nothing against DNS rebinding there: a page on the attacker's
// origin that rebinds its name to this runner cannot present the token, because browsers keep
// credentials per origin (Basic auth cached for runner.example.com is never sent to
// evil.example) and never let a script read them, and the API sends no CORS headers, so another
// origin cannot read answers either. Refusing unknown Hosts would only lock out operators who
// reach the runner by an address the configuration does not name.
//
// Without a token, the API and dashboard answer clients on this machine only: the connection
// must come from a loopback address, must not have been relayed by a proxy (a proxy on this
// machine would make the whole internet look local), and must name a loopback host or the public
// URL's host. The Host check is what defeats DNS rebinding: a browser tricked into sending
// evil.example's requests to 127.0.0.1 still sends "Host: evil.example".
type exposure struct {
	token  []byte
	hosts  map[string]bool // allowed Host names without a token, lower case, no port
	public *url.URL        // the public URL, whose origin the dashboard's actions may come from; nil if none
}

func newExposure(opts Options) exposure {
	e := exposure{hosts: map[string]bool{"localhost": true}}
	if opts.Token != "" {
		e.token = []byte(opts.Token)
	}
	if u, err := url.Parse(opts.PublicURL); err == nil && u.Hostname() != "" {
		e.hosts[strings.ToLower(u.Hostname())] = true
		e.public = u
	}
	for _, h := range opts.AllowedHosts {
		if h = hostname(h); h != "" {
			e.hosts[h] = true
		}
	}
	return e
}

// describe says which mode is in effect, for the log at start.
func (e exposure) describe(log *slog.Logger) {
	if e.token != nil {
		log.Info("API and dashboard: token required (RUNNER_API_TOKEN)")
		return
	}
	hosts := make([]string, 0, len(e.hosts))
	for h := range e.hosts {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	log.Info("API and dashboard: loopback only (set RUNNER_API_TOKEN to open them)", "hosts", hosts)
}

// guard lets a request through to next when exposure allows it.
func (e exposure) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.token != nil {
			if !e.hasToken(r) {
				w.Header().Set("WWW-Authenticate", `Basic realm="gitops-runner", charset="UTF-8"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "this runner's API needs its token (RUNNER_API_TOKEN)"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !loopbackPeer(r.RemoteAddr) || relayed(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{
				"error": "without RUNNER_API_TOKEN the API and dashboard answer on loopback only; set RUNNER_API_TOKEN to reach them from elsewhere",
			})
			return
		}
		if h := hostname(r.Host); !e.hosts[h] && !loopbackIP(h) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]any{
				"error": "host " + r.Host + " is not served here: use localhost, 127.0.0.1, [::1] or the public URL's host (a foreign Host may be DNS rebinding)",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (e exposure) hasToken(r *http.Request) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // auth schemes are case-insensitive
		_, got, ok = r.BasicAuth()
	}
	return ok && subtle.ConstantTimeCompare([]byte(got), e.token) == 1
}

// loopbackPeer reports whether a RemoteAddr (ip:port) is a loopback address, IPv4-mapped included.
func loopbackPeer(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

// relayed reports whether a proxy forwarded the request: then its loopback peer says nothing about
// the client.
func relayed(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// hostname is a Host header's name without its port, in lower case, without a trailing dot.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.ToLower(host)
}

func loopbackIP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
