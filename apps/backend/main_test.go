package main

// These tests run the real command: the test binary re-executes itself
// with BACKEND_TEST_MAIN=1 and runs main(), so exit statuses, stdout,
// stderr and signals are those of the shipped binary.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gitops-runner/runner/apps/backend/internal/items/itemstest"
	migrations "github.com/gitops-runner/runner/apps/backend/internal/migrate"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("BACKEND_TEST_MAIN") == "1" {
		os.Args = append([]string{"backend"}, strings.Fields(os.Getenv("BACKEND_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(pgtest.Main(m))
}

// A password with every character that needs escaping somewhere.
const password = "pa55:w/rd@%-secret"

type result struct {
	code           int
	stdout, stderr string
}

// backend starts the command with args and env (and nothing else of this
// process's environment).
func backend(t *testing.T, env map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BACKEND_TEST_MAIN=1", "BACKEND_TEST_ARGS=" + strings.Join(args, " "),
		// Under -race the child would sleep 1 s at exit, waiting for late
		// race reports; a race still fails it (exit 66) without the wait.
		"GORACE=atexit_sleep_ms=0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &stdout, &stderr
}

// runBackend runs the command to its end (at most 60 s).
func runBackend(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd, stdout, stderr := backend(t, env, args...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("backend %v did not exit within 60s; stderr: %s", args, stderr)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// dbEnv is the DB_* environment for a pgtest database URL, with password
// (which the test server's trust authentication ignores).
func dbEnv(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"DB_HOST": u.Hostname(), "DB_PORT": u.Port(), "DB_NAME": strings.TrimPrefix(u.Path, "/"),
		"DB_USER": u.User.Username(), "DB_PASSWORD": password, "DB_SSLMODE": "disable",
	}
}

func assertNoPassword(t *testing.T, r result) {
	t.Helper()
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if strings.Contains(r.stdout+r.stderr, form) {
			t.Fatalf("output shows the password:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "backend migrate status"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "unknown migrate command", args: []string{"migrate", "down"}, wantCode: 2, wantStderr: "migrate takes up or status"},
		{name: "serve with arguments", args: []string{"serve", "now"}, wantCode: 2, wantStderr: "serve takes no arguments"},
		{name: "migrate without a database", args: []string{"migrate"}, wantCode: 1,
			wantStderr: "backend: migrate: config: the postgres store needs DB_HOST, DB_NAME, DB_USER"},
		{name: "serve with a bad store", args: nil, env: map[string]string{"STORE": "redis"}, wantCode: 1, wantStderr: `backend: serve: config: STORE "redis"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBackend(t, tt.env, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) || !strings.Contains(r.stdout, tt.wantStdout) {
				t.Fatalf("backend %v = exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stderr with %q, stdout with %q",
					tt.args, r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStderr, tt.wantStdout)
			}
		})
	}
}

func TestMigrateUpThenStatus(t *testing.T) {
	env := dbEnv(t, pgtest.NewDatabase(t))

	up := runBackend(t, env, "migrate")
	if up.code != 0 || !strings.Contains(up.stdout, `"msg":"migrated"`) || !strings.Contains(up.stdout, "00002_item_limits.sql") {
		t.Fatalf("migrate = exit %d\nstdout: %s\nstderr: %s", up.code, up.stdout, up.stderr)
	}
	assertNoPassword(t, up)

	again := runBackend(t, env, "migrate", "up")
	if again.code != 0 || !strings.Contains(again.stdout, `"msg":"database is up to date","version":2`) {
		t.Fatalf("second migrate = exit %d\nstdout: %s\nstderr: %s", again.code, again.stdout, again.stderr)
	}

	status := runBackend(t, env, "migrate", "status")
	if status.code != 0 || strings.Count(status.stdout, " applied ") != 2 || !strings.Contains(status.stdout, "00001_create_items.sql") {
		t.Fatalf("migrate status = exit %d\nstdout: %s\nstderr: %s", status.code, status.stdout, status.stderr)
	}
}

// The runner's end-to-end tests make the deploy's migration fail this way.
func TestMigrateFailureExitsNonZeroAndSaysWhich(t *testing.T) {
	env := dbEnv(t, pgtest.NewDatabase(t))
	env["MIGRATIONS_DIR"] = "testdata/migrations-fail-on-purpose"
	r := runBackend(t, env, "migrate")
	if r.code != 1 {
		t.Fatalf("migrate with the failing fixture = exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"backend: migrate: migration 99999999999999_fail_on_purpose.sql failed and was rolled back",
		"the database stays at version 0", "failing on purpose"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "MIGRATIONS_DIR") {
		t.Errorf("stdout does not warn that MIGRATIONS_DIR replaced the built-in migrations:\n%s", r.stdout)
	}
	assertNoPassword(t, r)
}

func TestMigrateGivesUpWhileAnotherMigrationRuns(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_lock($1)", migrations.LockID); err != nil {
		t.Fatal(err)
	}
	env := dbEnv(t, dbURL)
	env["MIGRATE_LOCK_TIMEOUT"] = "1s"
	r := runBackend(t, env, "migrate")
	if r.code != 1 || !strings.Contains(r.stderr, "another migration is running") {
		t.Fatalf("migrate while locked = exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestMigrateCannotReachTheDatabase(t *testing.T) {
	env := dbEnv(t, "postgres://app@127.0.0.1:"+strconv.Itoa(closedPort(t))+"/items")
	r := runBackend(t, env, "migrate")
	if r.code != 1 || !strings.Contains(r.stderr, "backend: migrate:") {
		t.Fatalf("migrate without a database server = exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	assertNoPassword(t, r)
}

// The server on PostgreSQL, wired as in production: it serves, is ready,
// traces requests and queries to an OTLP collector, stops cleanly on
// SIGTERM, and never prints the password.
func TestServeOnPostgres(t *testing.T) {
	collector := newCollector(t)
	port := closedPort(t)
	env := dbEnv(t, itemstest.MigratedDatabase(t))
	env["STORE"], env["HOST"], env["PORT"], env["LOG_LEVEL"] = "postgres", "127.0.0.1", strconv.Itoa(port), "debug"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_SERVICE_NAME"] = collector.URL, "backend-e2e"
	cmd, stdout, stderr := backend(t, env)
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	waitFor(t, "GET /readyz = 200", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	req, _ := http.NewRequest("POST", base+"/api/v1/items", strings.NewReader(`{"name":"from the binary"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d %s", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("backend exited with %v after SIGTERM\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("backend did not stop within 30s of SIGTERM")
	}
	r := result{0, stdout.String(), stderr.String()}
	if !strings.Contains(r.stdout, `"store":"postgres"`) || !strings.Contains(r.stdout, `"msg":"stopped"`) {
		t.Errorf("log lacks the start or the stop:\n%s", r.stdout)
	}
	assertNoPassword(t, r)

	names := collector.spanNames()
	for _, want := range []string{"POST /api/v1/items", "INSERT"} {
		if !names[want] {
			t.Errorf("the collector got no %q span; got %v", want, names)
		}
	}
	if !collector.sawTrace("4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Error("the spans did not continue the request's traceparent")
	}
}

// With the database down the server still starts, says it is not ready,
// and keeps the password out of its warnings.
func TestServeWithTheDatabaseDown(t *testing.T) {
	port := closedPort(t)
	env := dbEnv(t, "postgres://app@127.0.0.1:"+strconv.Itoa(closedPort(t))+"/items")
	env["STORE"], env["HOST"], env["PORT"] = "postgres", "127.0.0.1", strconv.Itoa(port)
	cmd, stdout, stderr := backend(t, env)
	waitFor(t, "GET /readyz = 503", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	r := result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	if r.code != 0 || !strings.Contains(r.stdout, "database does not answer yet") || !strings.Contains(r.stdout, "not ready") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	assertNoPassword(t, r)
}

// closedPort is a port of 127.0.0.1 where nothing listens (for now).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collector stands in for the ADOT collector's OTLP/HTTP receiver.
type collector struct {
	URL   string
	mu    sync.Mutex
	spans map[string]string // name -> trace ID (hex)
}

func newCollector(t *testing.T) *collector {
	c := &collector{spans: map[string]string{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans[s.GetName()] = hexID(s.GetTraceId())
				}
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c.URL = "http://" + l.Addr().String()
	return c
}

func (c *collector) spanNames() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := map[string]bool{}
	for n := range c.spans {
		names[n] = true
	}
	return names
}

func (c *collector) sawTrace(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, got := range c.spans {
		if got == id {
			return true
		}
	}
	return false
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
