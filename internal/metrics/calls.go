package metrics

import "time"

// ObserveCall records one call to an outside service, for instrumented outbound clients.
//
//   - service: "github", "slack" or "aws" (other values are kept, up to a small bound).
//   - operation: a bounded name, never an id: for GitHub the route template
//     ("POST /repos/{owner}/{repo}/issues/{number}/comments"), for AWS "<service>.<Operation>"
//     ("ecr.GetAuthorizationToken"), for Slack the method ("chat.postMessage"). Past 256 distinct
//     operations new ones are counted as "other".
//   - result: "ok", "error" (no answer: transport error, timeout) or the status class of an answer
//     that is a failure ("4xx", "5xx"); see CallResult.
//   - d: from the request's start to its response headers (or error).
func (m *Metrics) ObserveCall(service, operation, result string, d time.Duration) {
	service = m.services.value(service)
	operation = m.operations.value(operation)
	result = oneOf(result, "ok", "error", "4xx", "5xx")
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

// CallResult is the result label of a call: "error" when there was no answer, else "ok" for
// status codes below 400 and "4xx" or "5xx" for the others.
func CallResult(status int, err error) string {
	switch {
	case err != nil:
		return "error"
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	}
	return "ok"
}
