// Package config reads the backend's settings from the environment once, at
// start-up, into validated structs; nothing else reads the environment.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Store kinds (STORE).
const (
	StoreMemory   = "memory"
	StorePostgres = "postgres"
)

// Config is the server's validated configuration.
type Config struct {
	// Addr is the listen address, HOST:PORT (HOST empty means all interfaces).
	Addr string
	// AllowedOrigins are the browser origins (scheme://host[:port]) that get
	// CORS headers. Empty means no cross-origin access at all.
	AllowedOrigins []string
	LogLevel       slog.Level
	// Store is StoreMemory or StorePostgres.
	Store string
	// DB is set when Store is StorePostgres.
	DB      DB
	Tracing Tracing
}

// Parse builds the server's Config from environment variables read through
// getenv: PORT (default 8080), HOST (default all interfaces),
// ALLOWED_ORIGINS (comma-separated origins), LOG_LEVEL (debug, info, warn,
// error), STORE (memory or postgres, default memory), the database
// variables of ParseDB when STORE is postgres, and the OpenTelemetry ones of
// parseTracing.
func Parse(getenv func(string) string) (Config, error) {
	var cfg Config

	port := strings.TrimSpace(getenv("PORT"))
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Config{}, fmt.Errorf("PORT %q: want a number from 1 to 65535", port)
	}
	cfg.Addr = net.JoinHostPort(strings.TrimSpace(getenv("HOST")), port)

	for raw := range strings.SplitSeq(getenv("ALLOWED_ORIGINS"), ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		origin, err := parseOrigin(raw)
		if err != nil {
			return Config{}, fmt.Errorf("ALLOWED_ORIGINS %q: %w", raw, err)
		}
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, origin)
	}

	var err error
	if cfg.LogLevel, err = parseLogLevel(getenv); err != nil {
		return Config{}, err
	}

	switch cfg.Store = strings.TrimSpace(getenv("STORE")); cfg.Store {
	case "":
		cfg.Store = StoreMemory
	case StoreMemory:
	case StorePostgres:
		if cfg.DB, err = ParseDB(getenv); err != nil {
			return Config{}, err
		}
	default:
		return Config{}, fmt.Errorf("STORE %q: want %s or %s", cfg.Store, StoreMemory, StorePostgres)
	}

	if cfg.Tracing, err = parseTracing(getenv); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func parseLogLevel(getenv func(string) string) (slog.Level, error) {
	var level slog.Level
	if lvl := strings.TrimSpace(getenv("LOG_LEVEL")); lvl != "" {
		if err := level.UnmarshalText([]byte(lvl)); err != nil {
			return 0, fmt.Errorf("LOG_LEVEL %q: %w", lvl, err)
		}
	}
	return level, nil
}

// parseOrigin accepts an origin as a browser sends it in the Origin header
// and returns its canonical form. A wildcard is refused on purpose: the API
// answers only the frontends it is deployed with.
func parseOrigin(raw string) (string, error) {
	if raw == "*" {
		return "", fmt.Errorf("wildcard origins are not supported; list each frontend origin")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("want scheme://host[:port] and nothing else")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
