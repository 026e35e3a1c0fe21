package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const password = "pa55:w/rd@%-secret"

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDB(t *testing.T) {
	base := map[string]string{"DB_HOST": "db.internal", "DB_NAME": "items", "DB_USER": "app", "DB_PASSWORD": password}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name        string
		env         map[string]string
		wantConn    map[string]string // query parameters of the connection string
		wantHostPrt string
		wantMax     int32
		wantErr     string
	}{
		{name: "TLS required by default", env: base, wantConn: map[string]string{"sslmode": "require", "application_name": "backend"},
			wantHostPrt: "db.internal:5432", wantMax: DefaultMaxConns},
		{name: "verified when there is a root certificate", env: with("DB_SSLROOTCERT", "/etc/rds.pem", "DB_PORT", "6543", "DB_POOL_MAX_CONNS", "12"),
			wantConn: map[string]string{"sslmode": "verify-full", "sslrootcert": "/etc/rds.pem"}, wantHostPrt: "db.internal:6543", wantMax: 12},
		{name: "disable only when asked", env: with("DB_SSLMODE", "disable"), wantConn: map[string]string{"sslmode": "disable"}, wantHostPrt: "db.internal:5432", wantMax: 5},
		{name: "prefer refused", env: with("DB_SSLMODE", "prefer"), wantErr: "DB_SSLMODE"},
		{name: "missing host and user", env: map[string]string{"DB_NAME": "x"}, wantErr: "DB_HOST, DB_USER"},
		{name: "bad port", env: with("DB_PORT", "five"), wantErr: "DB_PORT"},
		{name: "bad pool size", env: with("DB_POOL_MAX_CONNS", "0"), wantErr: "DB_POOL_MAX_CONNS"},
		{name: "URL gets TLS by default", env: map[string]string{"DATABASE_URL": "postgres://app:" + url.QueryEscape(password) + "@db:5433/items"},
			wantConn: map[string]string{"sslmode": "require"}, wantHostPrt: "db:5433", wantMax: 5},
		{name: "URL keeps its own sslmode", env: map[string]string{"DATABASE_URL": "postgresql://app@db/items?sslmode=disable&application_name=x"},
			wantConn: map[string]string{"sslmode": "disable", "application_name": "x"}, wantHostPrt: "db", wantMax: 5},
		{name: "URL with allow refused", env: map[string]string{"DATABASE_URL": "postgres://app@db/items?sslmode=allow"}, wantErr: "sslmode"},
		{name: "URL and DB_HOST both", env: with("DATABASE_URL", "postgres://app@db/items"), wantErr: "both set"},
		{name: "URL of another scheme", env: map[string]string{"DATABASE_URL": "mysql://app:" + password + "@db/items"}, wantErr: "want postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDB(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDB() error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), url.QueryEscape(password)) {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got.ConnString())
			if err != nil {
				t.Fatal(err)
			}
			if u.Host != tt.wantHostPrt || got.MaxConns != tt.wantMax {
				t.Errorf("host %s, max conns %d; want %s, %d", u.Host, got.MaxConns, tt.wantHostPrt, tt.wantMax)
			}
			for k, v := range tt.wantConn {
				if u.Query().Get(k) != v {
					t.Errorf("connection string %s = %q, want %q", k, u.Query().Get(k), v)
				}
			}
			if pw, _ := u.User.Password(); tt.env["DB_PASSWORD"] != "" && pw != password {
				t.Errorf("connection string password = %q, want the configured one", pw)
			}
		})
	}
}

// The password may sit in DB_PASSWORD or in DATABASE_URL; neither fmt (any
// verb), slog (text or JSON) nor encoding/json shows it.
func TestDBNeverPrintsThePassword(t *testing.T) {
	for name, e := range map[string]map[string]string{
		"DB_PASSWORD":  {"STORE": "postgres", "DB_HOST": "db", "DB_NAME": "n", "DB_USER": "u", "DB_PASSWORD": password},
		"DATABASE_URL": {"STORE": "postgres", "DATABASE_URL": "postgres://u:" + url.QueryEscape(password) + "@db/n"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DB.Password.Reveal() != password {
				t.Fatalf("password = %q, want it parsed", cfg.DB.Password.Reveal())
			}
			var out bytes.Buffer
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				fmt.Fprintf(&out, verb+"\n", cfg)
				fmt.Fprintf(&out, verb+"\n", cfg.DB)
				fmt.Fprintf(&out, verb+"\n", cfg.DB.Password)
			}
			slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "cfg", cfg, "db", cfg.DB, "pw", cfg.DB.Password, "url", cfg.DB.URL)
			slog.New(slog.NewTextHandler(&out, nil)).Info("x", "cfg", cfg, "db", cfg.DB)
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(b)
			for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password), "pa55"} {
				if strings.Contains(out.String(), form) {
					t.Fatalf("output shows the password (%q):\n%s", form, out.String())
				}
			}
			if !strings.Contains(out.String(), "[redacted]") {
				t.Fatalf("output does not say the password was redacted:\n%s", out.String())
			}
		})
	}
}
