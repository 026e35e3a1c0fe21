package web

import (
	"context"
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
	// sessions recognises single sign-on's sessions, which stand in for the token; nil: none. It is set
	// only with a token (the configuration requires one for single sign-on).
	sessions Sessions
}

// signedInKey is the request context key of the login of the session a request was let in by.
type signedInKey struct{}

// signedIn is the login of the single sign-on session a request was let in by; "" when it was let in
// otherwise (by the token, or on loopback).
func signedIn(r *http.Request) string {
	login, _ := r.Context().Value(signedInKey{}).(string)
	return login
}

func newExposure(opts Options) exposure {
	e := exposure{hosts: map[string]bool{"localhost": true}}
	if opts.Token != "" {
		e.token = []byte(opts.Token)
		e.sessions = opts.Sessions
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
	if e.token != nil && e.sessions != nil {
		log.Info("API and dashboard: token (RUNNER_API_TOKEN) or single sign-on session required")
		return
	}
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
func (e exposure) guard(next http.Handler) http.Handler { return e.guarding(next, false) }

// guardPage is guard for the dashboard's pages: with single sign-on, a browser that is not signed in
// is sent to sign in instead of being asked for the token.
func (e exposure) guardPage(next http.Handler) http.Handler { return e.guarding(next, true) }

func (e exposure) guarding(next http.Handler, page bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.token != nil {
			r, ok := e.authenticate(r)
			if !ok {
				if page && e.sessions != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
					w.Header().Set("Cache-Control", "no-store")
					http.Redirect(w, r, SignInPath, http.StatusSeeOther)
					return
				}
				e.unauthorized(w)
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

// authenticate lets a request in by the token or, with single sign-on, by a valid session, whose login
// it records in the request's context. The token wins: a request carrying it acts as it says.
func (e exposure) authenticate(r *http.Request) (*http.Request, bool) {
	if e.hasToken(r) {
		return r, true
	}
	if e.sessions == nil {
		return r, false
	}
	login, ok := e.sessions.Login(r)
	if !ok || login == "" {
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), signedInKey{}, login)), true
}

// unauthorized answers a request that presented neither the token nor a session.
func (e exposure) unauthorized(w http.ResponseWriter) {
	if e.sessions != nil {
		// No Basic challenge: a browser's script calling the API would pop up a password dialog.
		w.Header().Set("WWW-Authenticate", `Bearer realm="gitops-runner"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": "this runner's API needs its token (RUNNER_API_TOKEN) or a session: sign in at " + SignInPath,
		})
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="gitops-runner", charset="UTF-8"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "this runner's API needs its token (RUNNER_API_TOKEN)"})
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
