package fakegithub

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// FailureKind is how an injected failure answers.
type FailureKind int

const (
	// BadGateway answers 502 with GitHub's HTML-less error body.
	BadGateway FailureKind = iota
	// SecondaryRateLimit answers 403 with the secondary-rate-limit message and Retry-After.
	SecondaryRateLimit
	// PrimaryRateLimit answers Status (403 or 429) with X-RateLimit-Remaining: 0 and X-RateLimit-Reset.
	PrimaryRateLimit
)

// Failure is one injected answer, used instead of serving a request.
type Failure struct {
	Kind FailureKind
	// Status overrides the status code for PrimaryRateLimit (403 by default, 429 also happens).
	Status int
	// RetryAfter is sent as Retry-After in whole seconds (SecondaryRateLimit).
	RetryAfter time.Duration
	// Reset is sent as X-RateLimit-Reset (PrimaryRateLimit); zero means one second from now.
	Reset time.Time
	// Path, when set, keeps the failure for a request on that path (below the API prefix, e.g. "/user");
	// requests on other paths pass it by.
	Path string
}

// FailNext makes the next n requests answer with f: whatever their path, or on f.Path when set.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// PendingFailures is how many injected failures have not been served yet.
func (s *Server) PendingFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failures)
}

func (s *Server) takeFailure(path string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if f.Path == "" || f.Path == path {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return f, true
		}
	}
	return Failure{}, false
}

func (f Failure) write(w http.ResponseWriter, now time.Time) int {
	switch f.Kind {
	case SecondaryRateLimit:
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		return writeJSON(w, http.StatusForbidden, apiError{
			Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
			Status:           "403",
		})
	case PrimaryRateLimit:
		status := f.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		reset := f.Reset
		if reset.IsZero() {
			reset = now.Add(time.Second)
		}
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "5000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.Header().Set("X-RateLimit-Resource", "core")
		return writeJSON(w, status, apiError{
			Message:          "API rate limit exceeded for installation ID 1.",
			DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
			Status:           strconv.Itoa(status),
		})
	default:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return http.StatusBadGateway
	}
}

// paginate cuts items to the page the request asks for (per_page default 30, max 100) and sets the Link header
// with next/last/first/prev relations as GitHub does.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max((len(items)+per-1)/per, 1)

	link := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("per_page", strconv.Itoa(per))
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		h := ""
		for i, l := range links {
			if i > 0 {
				h += ", "
			}
			h += l
		}
		w.Header().Set("Link", h)
	}
	start := min((page-1)*per, len(items))
	end := min(start+per, len(items))
	return items[start:end]
}
