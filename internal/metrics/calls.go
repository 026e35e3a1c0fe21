package metrics

import "time"

// ObserveCall records one call to an outside service, for instrumented outbound clients.
//
//   - service: "github", "slack" or "aws" (other values are kept, up to a small bound).
//   - operation: a bounded name, never an id: for GitHub the route template
//     ("POST /repos/{owner}/{repo}/issues/{number}/comments"), for AWS "<service>.<Operation>"
//     ("ecr.GetAuthorizationToken"), for Slack the method ("chat.postMessage"). Past 256 distinct
//     operations new ones are counted as "other".
//   - result: as internal/outbound classifies an answer: "ok", "client_error" (4xx), "server_error"
//     (5xx), "rate_limited" (429, or GitHub's 403 with no requests left) or "error" (no answer: transport
//     error, timeout). Other values are counted as "other".
//   - d: from the request's start to its response headers (or error).
func (m *Metrics) ObserveCall(service, operation, result string, d time.Duration) {
	service = m.services.value(service)
	operation = m.operations.value(operation)
	result = oneOf(result, "ok", "client_error", "server_error", "rate_limited", "error")
	m.calls.WithLabelValues(service, operation, result).Inc()
	m.callDuration.WithLabelValues(service, operation).Observe(d.Seconds())
}

// SetRateLimit records a service's rate limit as its last answer gave it (GitHub's
// X-RateLimit-Remaining and X-RateLimit-Limit headers).
func (m *Metrics) SetRateLimit(service string, remaining, limit float64) {
	service = m.services.value(service)
	m.rateLimitLeft.WithLabelValues(service).Set(remaining)
	m.rateLimitLimit.WithLabelValues(service).Set(limit)
}
