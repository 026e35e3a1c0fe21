package registry_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gitops-runner/runner/internal/testenv/registry"
)

func TestRegistry(t *testing.T) {
	auth := &authn.Basic{Username: "AWS", Password: "pw"}
	a, _ := random.Image(1024, 2)
	b, _ := random.Image(1024, 2)
	tests := []struct {
		name       string
		opts       []registry.Option
		auth       authn.Authenticator
		second     bool // push b to the tag after a
		wantStatus int  // of the failing push, 0 = all succeed
		wantCode   transport.ErrorCode
	}{
		{name: "open registry moves tags", second: true},
		{name: "basic auth required", opts: []registry.Option{registry.WithBasicAuth("AWS", "pw")},
			auth: authn.Anonymous, wantStatus: http.StatusUnauthorized},
		{name: "basic auth accepted", opts: []registry.Option{registry.WithBasicAuth("AWS", "pw")}, auth: auth},
		{name: "immutable tag rejects another digest", opts: []registry.Option{registry.WithImmutableTags()},
			second: true, wantStatus: http.StatusBadRequest, wantCode: "TAG_INVALID"},
		{name: "repository check rejects unknown repositories",
			opts:       []registry.Option{registry.WithRepositoryCheck(func(string) bool { return false })},
			wantStatus: http.StatusNotFound, wantCode: transport.NameUnknownErrorCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := registry.New(tt.opts...)
			t.Cleanup(s.Close)
			ref, err := name.NewTag(s.Host + "/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth == nil {
				tt.auth = authn.Anonymous
			}
			err = remote.Write(ref, a, remote.WithAuth(tt.auth))
			if err == nil {
				layers, _ := a.Layers()
				var size int64
				for _, l := range layers {
					n, _ := l.Size()
					size += n
				}
				cfg, _ := a.RawConfigFile()
				if got, want := s.UploadedBytes(), size+int64(len(cfg)); got != want {
					t.Errorf("uploaded %d bytes, want layers + config = %d", got, want)
				}
				// Same image again under the same tag: fine even when immutable.
				err = remote.Write(ref, a, remote.WithAuth(tt.auth))
			}
			if err == nil && tt.second {
				err = remote.Write(ref, b, remote.WithAuth(tt.auth))
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var te *transport.Error
			if !errors.As(err, &te) || te.StatusCode != tt.wantStatus {
				t.Fatalf("err = %v, want status %d", err, tt.wantStatus)
			}
			if tt.wantCode != "" && (len(te.Errors) == 0 || te.Errors[0].Code != tt.wantCode) {
				t.Errorf("errors %v, want code %s", te.Errors, tt.wantCode)
			}
		})
	}
}
