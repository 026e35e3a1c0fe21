// Package pgtest runs one throwaway PostgreSQL server per test binary
// (127.0.0.1, a free port, fsync off, files in a temporary directory) and
// gives each test a fresh database on it.
//
// Use it from TestMain, so the server stops when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// The server starts with the first NewDatabase call. Tests skip when the
// PostgreSQL server binaries are not installed, unless PGTEST_REQUIRE=1, as
// scripts/test-apps.sh sets, makes that a failure.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotInstalled says the PostgreSQL server binaries were not found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found in $PG_BIN, /usr/lib/postgresql/*/bin or $PATH " +
	"(apt-get install postgresql; .ci/run installs it)")

var errPortTaken = errors.New("port taken before postgres could bind it")

// superuser is the role initdb creates; connections need no password.
const superuser = "backend"

// PasswordGroup is a role whose members must give their password (scram-sha-256) to connect over
// TCP; every other role is trusted. Tests of password handling create their roles IN ROLE it.
const PasswordGroup = "pgtest_password"

var (
	once    sync.Once
	shared  *server
	initErr error
)

// Main runs the tests, then stops the server if a test started one, and
// returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// NewDatabase creates an empty database for t and returns its URL
// (postgres://backend@127.0.0.1:PORT/NAME?sslmode=disable).
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared, initErr = start() })
	if errors.Is(initErr, ErrNotInstalled) && os.Getenv("PGTEST_REQUIRE") != "1" {
		t.Skipf("skipping: %v; set PGTEST_REQUIRE=1 to fail instead", initErr)
	}
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	url, err := shared.newDatabase(t.Context())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// NewPool opens a connection pool to url that closes when t ends.
func NewPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

type server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited

	mu    sync.Mutex // serialises CREATE DATABASE, which copies template1
	admin *pgx.Conn
	n     atomic.Int64
}

// binDir finds initdb and postgres: $PG_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian), else $PATH.
func binDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(m) > 0 {
		newest, newestV := "", -1
		for _, p := range m {
			dir := filepath.Dir(p)
			if v, err := strconv.Atoi(filepath.Base(filepath.Dir(dir))); err == nil && v > newestV {
				newest, newestV = dir, v
			}
		}
		if newest != "" {
			return newest, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

// serverCredential is nil unless we are root: PostgreSQL refuses to run as
// root, so then it runs as the postgres user (Debian's package makes one),
// or as nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, but there is no postgres or nobody user to run the server as")
}

func start() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, ErrNotInstalled
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "backend-pg-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			s.remove()
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := s.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", superuser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The first matching line wins: members of PasswordGroup need their password, everyone else is trusted.
	hba := filepath.Join(data, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		s.remove()
		return nil, err
	}
	rules := "host all +" + PasswordGroup + " 127.0.0.1/32 scram-sha-256\nhost all +" + PasswordGroup + " ::1/128 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(rules), old...), 0o600); err != nil {
		s.remove()
		return nil, err
	}
	// The port is free when chosen but may be taken before the server binds
	// it (other test binaries run at the same time): try a few.
	for attempt := 1; ; attempt++ {
		err = s.run(cred, bin, data)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			break
		}
	}
	if err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + s.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// run starts the server on a free port and waits until it answers.
func (s *server) run(cred *syscall.Credential, bin, data string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := s.command(cred, filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without stopping it (a -timeout panic, a
	// kill), the server gets SIGQUIT (immediate shutdown) and goes too.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.port = cmd, done, port

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			s.admin = conn
			return nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "could not bind") {
				return fmt.Errorf("%w: %d", errPortTaken, port)
			}
			return fmt.Errorf("postgres exited during start-up:\n%s", log)
		case <-ctx.Done():
			_ = s.stop()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres did not accept connections within 60s: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *server) url(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, name)
}

func (s *server) newDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := fmt.Sprintf("test_%d", s.n.Add(1))
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.url(name), nil
}

// stop shuts the server down (fast mode: sessions are ended, nothing is
// flushed that matters), kills it if it lingers, and removes its files.
func (s *server) stop() error {
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.admin.Close(ctx)
		cancel()
	}
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			err = errors.New("postgres did not stop within 15s of SIGINT; killed it")
		}
	}
	s.remove()
	return err
}

func (s *server) remove() {
	if s.dir != "" && strings.HasPrefix(filepath.Base(s.dir), "backend-pg-") {
		_ = os.RemoveAll(s.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
