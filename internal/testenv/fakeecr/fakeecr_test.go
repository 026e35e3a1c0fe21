package fakeecr_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakeecr"
)

// The happy paths are driven by the real SDK client in internal/image/ecr; these pin the wire errors.
func TestProtocolErrors(t *testing.T) {
	s := fakeecr.New(fakeecr.Options{RegistryURL: "http://127.0.0.1:1"})
	t.Cleanup(s.Close)
	tests := []struct {
		name, target, contentType, body, wantType string
	}{
		{name: "unknown operation", target: "AmazonEC2ContainerRegistry_V20150921.PutImage",
			contentType: "application/x-amz-json-1.1", body: "{}", wantType: "UnknownOperationException"},
		{name: "missing target", contentType: "application/x-amz-json-1.1", body: "{}",
			wantType: "UnknownOperationException"},
		{name: "wrong content type", target: "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
			contentType: "application/json", body: "{}", wantType: "SerializationException"},
		{name: "missing repository", target: "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
			contentType: "application/x-amz-json-1.1", body: `{"repositoryNames":["x"]}`,
			wantType: "RepositoryNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(tt.body))
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || e.Type != tt.wantType || e.Message == "" {
				t.Errorf("got %d %+v, want 400 %s with a message", resp.StatusCode, e, tt.wantType)
			}
		})
	}
}
