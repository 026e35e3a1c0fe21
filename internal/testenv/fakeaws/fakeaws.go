// Package fakeaws holds in-process stand-ins for the Auto Scaling and ECS APIs that speak the real wire
// protocols (AWS Query + XML, JSON 1.1), so tests and `runner demo` drive the real aws-sdk-go-v2 clients.
package fakeaws

import (
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Region is the region the fakes claim to be in; it only shows up in ARNs.
const Region = "us-east-1"

// AccountID is the account the fakes claim to belong to; it only shows up in ARNs.
const AccountID = "123456789012"

// Call is one request a fake received, in arrival order.
type Call struct {
	// Action is the operation name, e.g. "StartInstanceRefresh" or "DescribeServices".
	Action string
	// Params are the form parameters of an AWS Query request (Auto Scaling); nil for JSON requests.
	Params url.Values
	// Body is the raw JSON body of a JSON 1.1 request (ECS); empty for Query requests.
	Body string
}

// recorder keeps the calls a fake received; both fakes embed it.
type recorder struct {
	mu    sync.Mutex
	calls []Call
}

func (r *recorder) record(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

// Calls returns a copy of the calls received so far.
func (r *recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// CallCount returns how many calls of one action were received.
func (r *recorder) CallCount(action string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

// clientConfig is what every real SDK client pointed at a fake needs: a base endpoint, static
// credentials (the fakes do not check signatures) and no retries, so a fake's error surfaces at once.
func clientConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	}
}

// AutoScalingClient returns a real Auto Scaling client that talks to the fake at endpoint.
func AutoScalingClient(endpoint string) *autoscaling.Client {
	return autoscaling.NewFromConfig(clientConfig(endpoint))
}

// ECSClient returns a real ECS client that talks to the fake at endpoint.
func ECSClient(endpoint string) *ecs.Client {
	return ecs.NewFromConfig(clientConfig(endpoint))
}
