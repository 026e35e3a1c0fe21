// Package moto runs moto_server, a real AWS emulator (STS, ECR API, ECS, EC2 launch templates, Auto Scaling, S3),
// on 127.0.0.1 for tests that drive the runner's real aws-sdk-go-v2 clients against it.
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gitops-runner/runner/internal/proc"
)

// Region and AccountID are what moto answers for the clients Config makes.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// startTimeout bounds how long moto_server may take to answer its first request.
const startTimeout = 20 * time.Second

// Server is a running moto_server, stopped when the test that started it ends.
type Server struct {
	// URL is the endpoint for every service, e.g. http://127.0.0.1:41234.
	URL string

	out *output
}

// Option adjusts Start.
type Option func(*options)

type options struct{ env []string }

// Env adds KEY=value settings to moto_server's environment, e.g. "MOTO_ECS_SERVICE_RUNNING=2".
func Env(kv ...string) Option {
	return func(o *options) { o.env = append(o.env, kv...) }
}

// Start runs moto_server (the MOTO_SERVER environment variable, else moto_server on PATH, else
// ~/.pyenv/shims/moto_server) on a free port of
// 127.0.0.1 and waits until it answers; the test is skipped when moto_server is not installed. The server's
// whole process group is killed when the test ends, and its output is logged if the test failed.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		bin = "moto_server"
	}
	path, err := exec.LookPath(bin)
	if err != nil && os.Getenv("MOTO_SERVER") == "" {
		// Machines with moto preinstalled keep it under pyenv, whose shims are not always on PATH.
		if home, herr := os.UserHomeDir(); herr == nil {
			if p, perr := exec.LookPath(filepath.Join(home, ".pyenv", "shims", "moto_server")); perr == nil {
				path, err = p, nil
			}
		}
	}
	if err != nil {
		t.Skipf("moto_server not installed (%v): install moto 5.2.1 (pip install 'moto[server]==5.2.1') "+
			"and put moto_server on PATH, or set MOTO_SERVER to its path", err)
	}
	// The free port is found by binding :0 and letting go; another process can take it in between, so a
	// server that dies before answering is started again on a new port.
	for attempt := 1; ; attempt++ {
		s, err := start(t, path, o.env)
		if err == nil {
			return s
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatalf("start moto_server: %v", err)
		}
	}
}

// errExited is a server that stopped before it answered, e.g. because its port was taken.
var errExited = errors.New("moto_server exited before answering")

func start(t testing.TB, path string, env []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &output{}
	// The context lives as long as the test: cancelling it interrupts the process group, which proc kills after
	// the grace period.
	ctx, cancel := context.WithCancel(context.Background())
	cmd := proc.Command(ctx, 2*time.Second, path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	// exited is closed once Wait has returned waitErr; the goroutine ends when the process does.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cancel()
		<-exited
		proc.Reap(cmd)
	}
	s := &Server{URL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: out}
	if err := s.waitReady(exited, func() error { return waitErr }); err != nil {
		stop()
		return nil, fmt.Errorf("%w\nmoto_server output:\n%s", err, out)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("moto_server output:\n%s", out)
		}
	})
	return s, nil
}

// waitReady polls the moto API until it answers, the process exits, or startTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}, waitErr func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/data.json", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%w: %v", errExited, waitErr())
		case <-ctx.Done():
			return fmt.Errorf("moto_server at %s not answering after %s", s.URL, startTimeout)
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Config returns an aws.Config for the server: static credentials, region us-east-1, BaseEndpoint set for every
// service client made from it, and no retries (a refused call is an answer, not a hiccup). S3 clients also
// need UsePathStyle.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDMOTO", "moto-secret", ""),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	}
}

// Reset drops every resource in every service, so one server can serve several subtests in turn.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s", resp.Status)
	}
	return nil
}

// Output is what moto_server has printed so far (one line per request).
func (s *Server) Output() string { return s.out.String() }

// output collects the server's stdout and stderr, written by exec's copying goroutines while tests read it.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
