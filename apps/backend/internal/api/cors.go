package api

import (
	"net/http"
	"strings"
)

// cors answers only the configured origins. A refused origin gets no CORS
// headers at all, so its browser blocks the response; a refused preflight is
// answered 403.
type cors struct {
	origins map[string]bool
}

const (
	corsMethods = "GET, POST, PUT, DELETE"
	corsHeaders = "Content-Type"
	corsMaxAge  = "600"
)

func newCORS(origins []string) cors {
	c := cors{origins: map[string]bool{}}
	for _, o := range origins {
		c.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return c
}

func (c cors) allowed(origin string) bool {
	return origin != "" && c.origins[strings.ToLower(origin)]
}

func (c cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Answers differ by Origin, so shared caches must key on it.
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		ok := c.allowed(origin)

		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !ok {
				writeError(w, http.StatusForbidden, "origin not allowed")
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Location")
		}
		next.ServeHTTP(w, r)
	})
}
