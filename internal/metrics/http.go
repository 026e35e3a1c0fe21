package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// HTTP counts the requests next serves, by the ServeMux pattern that matched (r.Pattern after
// routing; Other when none did, so that scanners' paths never become labels) and status code.
// next is the ServeMux itself: it sets the pattern on the request it was given.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern
			if route == "" {
				route = Other
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code. Unwrap lets http.ResponseController reach the
// connection (read deadlines, flushes) through it; Flush keeps streaming answers streaming.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx answers are informational: the real one follows
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
