package pgtest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestNewDatabaseGivesEachTestItsOwnDatabase(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("the same database twice: %s", a)
	}
	var name string
	if err := NewPool(t, a).QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == "" {
		t.Fatal("no database name")
	}
	var settings string
	if err := NewPool(t, b).QueryRow(t.Context(),
		"SELECT current_setting('fsync') || ' ' || current_setting('listen_addresses')").Scan(&settings); err != nil {
		t.Fatal(err)
	}
	if settings != "off 127.0.0.1" {
		t.Fatalf("fsync, listen_addresses = %s, want off 127.0.0.1", settings)
	}
}
