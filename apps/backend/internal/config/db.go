package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SSL modes accepted in DB_SSLMODE and DATABASE_URL. libpq's "allow" and
// "prefer" are refused: they fall back to plaintext without a word.
const (
	SSLDisable    = "disable"
	SSLRequire    = "require"
	SSLVerifyCA   = "verify-ca"
	SSLVerifyFull = "verify-full"
)

// DefaultMaxConns is the pool size per server process when
// DB_POOL_MAX_CONNS is unset: small, because every ECS task has its own pool
// and RDS counts all of them against max_connections.
const DefaultMaxConns = 5

// DB is how to reach the PostgreSQL database. Either URL is set (from
// DATABASE_URL) or the separate fields are (from DB_*). It prints and logs
// without the password.
type DB struct {
	Host        string
	Port        int
	Name        string
	User        string
	Password    Secret
	SSLMode     string
	SSLRootCert string
	// URL is DATABASE_URL, sslmode filled in; it holds the password.
	URL Secret
	// MaxConns bounds the connection pool (DB_POOL_MAX_CONNS).
	MaxConns int32
}

// ConnString is the pgx connection string, password included: hand it to
// pgx and to nothing else.
func (d DB) ConnString() string {
	if d.URL != "" {
		return d.URL.Reveal()
	}
	q := url.Values{}
	q.Set("sslmode", d.SSLMode)
	if d.SSLRootCert != "" {
		q.Set("sslrootcert", d.SSLRootCert)
	}
	addDefaults(q)
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(d.User, d.Password.Reveal()),
		Host:     net.JoinHostPort(d.Host, strconv.Itoa(d.Port)),
		Path:     "/" + d.Name,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// LogValue is what logs may show: where, who and how, never the password.
func (d DB) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", d.Host),
		slog.Int("port", d.Port),
		slog.String("name", d.Name),
		slog.String("user", d.User),
		slog.String("sslmode", d.SSLMode),
		slog.Bool("from_database_url", d.URL != ""),
		slog.Int("max_conns", int(d.MaxConns)),
	)
}

// addDefaults sets the connection parameters the backend wants unless the
// connection string chose its own.
func addDefaults(q url.Values) {
	if !q.Has("application_name") {
		q.Set("application_name", "backend")
	}
	if !q.Has("connect_timeout") {
		q.Set("connect_timeout", "10")
	}
}

// dbVars are the separate variables that DATABASE_URL replaces.
var dbVars = []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSLMODE", "DB_SSLROOTCERT"}

// ParseDB reads the database settings: DB_HOST, DB_PORT (default 5432),
// DB_NAME, DB_USER, DB_PASSWORD, DB_SSLMODE and DB_SSLROOTCERT, or instead
// DATABASE_URL (postgres://...); and DB_POOL_MAX_CONNS. TLS is on unless
// disabled explicitly: sslmode defaults to verify-full when a root
// certificate is given, else to require. Error messages never quote the
// password or the URL.
func ParseDB(getenv func(string) string) (DB, error) {
	d := DB{MaxConns: DefaultMaxConns}
	if raw := strings.TrimSpace(getenv("DB_POOL_MAX_CONNS")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 1000 {
			return DB{}, fmt.Errorf("DB_POOL_MAX_CONNS %q: want a number from 1 to 1000", raw)
		}
		d.MaxConns = int32(n)
	}

	if raw := strings.TrimSpace(getenv("DATABASE_URL")); raw != "" {
		for _, name := range dbVars {
			if getenv(name) != "" {
				return DB{}, fmt.Errorf("DATABASE_URL and %s are both set: use one or the other", name)
			}
		}
		return parseURL(raw, d)
	}

	d.Host = strings.TrimSpace(getenv("DB_HOST"))
	d.Name = strings.TrimSpace(getenv("DB_NAME"))
	d.User = strings.TrimSpace(getenv("DB_USER"))
	d.Password = Secret(getenv("DB_PASSWORD"))
	var missing []string
	for name, v := range map[string]string{"DB_HOST": d.Host, "DB_NAME": d.Name, "DB_USER": d.User} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return DB{}, fmt.Errorf("the postgres store needs %s (or DATABASE_URL)", strings.Join(missing, ", "))
	}
	d.Port = 5432
	if raw := strings.TrimSpace(getenv("DB_PORT")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 65535 {
			return DB{}, fmt.Errorf("DB_PORT %q: want a number from 1 to 65535", raw)
		}
		d.Port = n
	}
	d.SSLRootCert = strings.TrimSpace(getenv("DB_SSLROOTCERT"))
	var err error
	if d.SSLMode, err = sslMode(strings.TrimSpace(getenv("DB_SSLMODE")), d.SSLRootCert != ""); err != nil {
		return DB{}, fmt.Errorf("DB_SSLMODE: %w", err)
	}
	return d, nil
}

// parseURL checks DATABASE_URL and fills in sslmode. It quotes nothing of
// the URL in its errors: the URL holds the password.
func parseURL(raw string, d DB) (DB, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return DB{}, errors.New("DATABASE_URL: want postgres://user:password@host[:port]/name[?sslmode=...] (value not shown: it holds the password)")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return DB{}, errors.New("DATABASE_URL: its query string does not parse (value not shown: it holds the password)")
	}
	mode, err := sslMode(q.Get("sslmode"), q.Get("sslrootcert") != "")
	if err != nil {
		return DB{}, fmt.Errorf("DATABASE_URL sslmode: %w", err)
	}
	q.Set("sslmode", mode)
	addDefaults(q)
	u.RawQuery = q.Encode()

	d.URL = Secret(u.String())
	d.Host, d.Name, d.SSLMode, d.SSLRootCert = u.Hostname(), strings.TrimPrefix(u.Path, "/"), mode, q.Get("sslrootcert")
	d.Port = 5432
	if p, err := strconv.Atoi(u.Port()); err == nil {
		d.Port = p
	}
	if u.User != nil {
		d.User = u.User.Username()
		pw, _ := u.User.Password()
		d.Password = Secret(pw)
	}
	return d, nil
}

// sslMode validates mode and supplies the default: TLS always, verified
// when there is a root certificate to verify against.
func sslMode(mode string, haveRootCert bool) (string, error) {
	switch mode {
	case "":
		if haveRootCert {
			return SSLVerifyFull, nil
		}
		return SSLRequire, nil
	case SSLDisable, SSLRequire, SSLVerifyCA, SSLVerifyFull:
		return mode, nil
	default:
		return "", fmt.Errorf("%q: want %s, %s, %s or %s (allow and prefer may fall back to plaintext)",
			mode, SSLRequire, SSLVerifyCA, SSLVerifyFull, SSLDisable)
	}
}
