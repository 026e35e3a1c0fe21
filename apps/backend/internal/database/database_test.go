package database

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const password = "pa55:w/rd@%-secret"

func parse(t *testing.T, env map[string]string) config.DB {
	t.Helper()
	cfg, err := config.ParseDB(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type nopTracer struct{ pgx.QueryTracer }

func TestOpenPoolAppliesTheSettings(t *testing.T) {
	cfg := parse(t, map[string]string{"DB_HOST": "db.internal", "DB_NAME": "items", "DB_USER": "app", "DB_PASSWORD": password, "DB_POOL_MAX_CONNS": "7"})
	tracer := nopTracer{}
	pool, err := OpenPool(t.Context(), cfg, tracer) // connects lazily: nothing listens at db.internal
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pc := pool.Config()
	cc := pc.ConnConfig
	if pc.MaxConns != 7 || cc.Host != "db.internal" || cc.Port != 5432 || cc.Database != "items" || cc.User != "app" || cc.Password != password {
		t.Fatalf("pool config: max %d, %s:%d/%s as %s", pc.MaxConns, cc.Host, cc.Port, cc.Database, cc.User)
	}
	if cc.TLSConfig == nil {
		t.Error("TLS is off with the default sslmode (require)")
	}
	if cc.RuntimeParams["application_name"] != "backend" {
		t.Errorf("application_name = %q", cc.RuntimeParams["application_name"])
	}
	if cc.Tracer != tracer {
		t.Error("the query tracer is not set")
	}
}

func TestOpenErrorsDoNotShowThePassword(t *testing.T) {
	cfg := parse(t, map[string]string{"DB_HOST": "db", "DB_NAME": "items", "DB_USER": "app", "DB_PASSWORD": password,
		"DB_SSLROOTCERT": "/nonexistent/rds-ca.pem"})
	for name, open := range map[string]func() error{
		"pool": func() error { _, err := OpenPool(t.Context(), cfg, nil); return err },
		"sql":  func() error { _, err := OpenSQL(cfg); return err },
	} {
		err := open()
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/rds-ca.pem") {
			t.Fatalf("%s: error = %v, want one naming the certificate file", name, err)
		}
		if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), url.QueryEscape(password)) {
			t.Fatalf("%s: error shows the password: %v", name, err)
		}
	}
}

func TestScrubRemovesThePasswordInEveryForm(t *testing.T) {
	cfg := config.DB{Password: password}
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		got := Scrub(cfg, errors.New("connect to postgres://app:"+form+"@db: refused"))
		if strings.Contains(got.Error(), form) || !strings.Contains(got.Error(), "[redacted]") {
			t.Errorf("Scrub() = %v", got)
		}
	}
	plain := errors.New("no password here")
	if Scrub(cfg, plain) != plain || Scrub(cfg, nil) != nil {
		t.Error("Scrub() changed an error without the password")
	}
}

func TestOpenSQLConnects(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, map[string]string{"DATABASE_URL": u.String()})
	db, err := OpenSQL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}
