package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultLockTimeout is how long `backend migrate` waits for another
// migrator's lock when MIGRATE_LOCK_TIMEOUT is unset.
const DefaultLockTimeout = 5 * time.Minute

// Migrate is the configuration of `backend migrate`.
type Migrate struct {
	DB       DB
	LogLevel slog.Level
	// Dir, from MIGRATIONS_DIR, replaces the migrations built into the binary
	// with the .sql files of a directory. It exists for tests that need a
	// migration to fail; production images have no such directory.
	Dir string
	// LockTimeout bounds the wait for the migration lock.
	LockTimeout time.Duration
}

// ParseMigrate reads the database variables of ParseDB, LOG_LEVEL,
// MIGRATIONS_DIR and MIGRATE_LOCK_TIMEOUT (a Go duration, default 5m).
func ParseMigrate(getenv func(string) string) (Migrate, error) {
	var m Migrate
	var err error
	if m.LogLevel, err = parseLogLevel(getenv); err != nil {
		return Migrate{}, err
	}
	if m.DB, err = ParseDB(getenv); err != nil {
		return Migrate{}, err
	}
	m.Dir = strings.TrimSpace(getenv("MIGRATIONS_DIR"))
	m.LockTimeout = DefaultLockTimeout
	if raw := strings.TrimSpace(getenv("MIGRATE_LOCK_TIMEOUT")); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Second || d > time.Hour {
			return Migrate{}, fmt.Errorf("MIGRATE_LOCK_TIMEOUT %q: want a duration from 1s to 1h, e.g. 5m", raw)
		}
		m.LockTimeout = d
	}
	return m, nil
}
