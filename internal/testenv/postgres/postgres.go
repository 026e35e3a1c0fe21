// Package postgres starts a throwaway PostgreSQL server (Debian's binaries) on 127.0.0.1 for tests, and
// makes a fresh database per test on it.
package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// ErrUnavailable says PostgreSQL's server binaries are not installed.
var ErrUnavailable = errors.New("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")

// PasswordGroup is a role whose members must give their password (scram-sha-256) to connect; every
// other role is trusted. Tests of password handling (rotation) create their roles IN ROLE it: the server
// creates the group at start.
const PasswordGroup = "pgtest_password"

// Server is a running PostgreSQL server.
type Server struct {
	dir, bin string
	port     int
	cred     *syscall.Credential
	n        atomic.Int64
}

// binDir finds initdb and pg_ctl: PG_BIN, else Debian's newest /usr/lib/postgresql/*/bin, else PATH.
func binDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		return filepath.Dir(m[len(m)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrUnavailable
}

// Start initialises a cluster in a new temporary directory and starts it on a free port of 127.0.0.1,
// without a Unix socket, with fsync off (tests need no durability across machine crashes). As root it runs
// the server as the "postgres" user (PostgreSQL refuses to run as root). Call Stop when done.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "runner-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(ctx, "initdb", "-D", data, "-U", "runner", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		s.Stop()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The first matching line wins: members of PasswordGroup need their password, everyone else is trusted.
	hba := filepath.Join(data, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("read pg_hba.conf: %w", err)
	}
	rules := "host all +" + PasswordGroup + " 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(rules), old...), 0o600); err != nil {
		s.Stop()
		return nil, fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if s.port, err = freePort(); err != nil {
		s.Stop()
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", s.port)
	if out, err := s.run(ctx, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		s.Stop()
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	if err := s.exec(ctx, "CREATE ROLE "+PasswordGroup+" NOLOGIN"); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + s.dir}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the server's connection URL for database name.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://runner@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// NewDatabase creates a fresh, empty database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, s.n.Add(1))
	if err := s.exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// NewPasswordRole creates a login role of PasswordGroup with password, owner of a fresh database, and
// returns that database's URL for the role, password included. Change the password with Exec.
func (s *Server) NewPasswordRole(ctx context.Context, password string) (role, url string, err error) {
	n := s.n.Add(1)
	role = fmt.Sprintf("r%d_%d", time.Now().UnixNano()%1e9, n)
	name := "d" + role
	if err := s.exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s", role, strings.ReplaceAll(password, "'", "''"), PasswordGroup)); err != nil {
		return "", "", err
	}
	if err := s.exec(ctx, "CREATE DATABASE "+name+" OWNER "+role); err != nil {
		return "", "", err
	}
	u := neturl.URL{Scheme: "postgres", User: neturl.UserPassword(role, password), Host: fmt.Sprintf("127.0.0.1:%d", s.port),
		Path: "/" + name, RawQuery: "sslmode=disable"}
	return role, u.String(), nil
}

// Exec runs one statement as the superuser (on database postgres).
func (s *Server) Exec(ctx context.Context, stmt string) error { return s.exec(ctx, stmt) }

func (s *Server) exec(ctx context.Context, stmt string) error {
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: %s: %w", stmt, err)
	}
	return nil
}

// Stop stops the server at once and removes its files.
func (s *Server) Stop() {
	if s.port != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	}
	if !strings.HasPrefix(s.dir, os.TempDir()) {
		return
	}
	_ = os.RemoveAll(s.dir)
}
