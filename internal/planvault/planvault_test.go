package planvault_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gitops-runner/runner/internal/planvault"
	"github.com/gitops-runner/runner/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Two replicas with the same secret on one store: what one keeps the other fetches, byte for byte; the
// store holds only ciphertext.
func TestAnotherReplicaFetchesWhatOneKept(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	a, err := planvault.New(st, "webhook-secret")
	if err != nil {
		t.Fatal(err)
	}
	b, err := planvault.New(st, "webhook-secret")
	if err != nil {
		t.Fatal(err)
	}
	plan := append([]byte("PK\x03\x04 tfplan with db_password = hunter2 "), 0, 0xff)
	if err := a.Keep(ctx, 7, "prod", map[string][]byte{"prod.tfplan": plan}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Fetch(ctx, 7, "prod")
	if err != nil || !bytes.Equal(got["prod.tfplan"], plan) || len(got) != 1 {
		t.Fatalf("fetched %q, %v; want the kept plan", got, err)
	}
	raw, err := st.KeptPlans(ctx, 7, "prod")
	if err != nil || len(raw) != 1 {
		t.Fatal(raw, err)
	}
	if bytes.Contains(raw[0].Sealed, []byte("hunter2")) || bytes.Contains(raw[0].Sealed, []byte("tfplan")) {
		t.Fatalf("the store holds the plan in the clear: %q", raw[0].Sealed)
	}
	if none, err := b.Fetch(ctx, 7, "dev"); err != nil || len(none) != 0 {
		t.Fatalf("nothing kept for dev: got %v, %v", none, err)
	}
}

// A sealed plan does not open under another secret, for another run or environment, nor altered.
func TestTamperedPlansDoNotOpen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		secret string
		mutate func(t *testing.T, st *store.Store, sealed []byte)
		run    int64
		env    string
	}{
		{name: "another secret", secret: "other-secret", run: 7, env: "prod"},
		{name: "moved to another run", secret: "s", run: 8, env: "prod", mutate: func(t *testing.T, st *store.Store, sealed []byte) {
			if err := st.KeepPlans(ctx, 8, "prod", []store.SavedPlan{{Name: "prod.tfplan", Sealed: sealed}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "moved to another environment", secret: "s", run: 7, env: "dev", mutate: func(t *testing.T, st *store.Store, sealed []byte) {
			if err := st.KeepPlans(ctx, 7, "dev", []store.SavedPlan{{Name: "prod.tfplan", Sealed: sealed}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a byte flipped", secret: "s", run: 7, env: "prod", mutate: func(t *testing.T, st *store.Store, sealed []byte) {
			bad := bytes.Clone(sealed)
			bad[len(bad)-1] ^= 1
			if err := st.KeepPlans(ctx, 7, "prod", []store.SavedPlan{{Name: "prod.tfplan", Sealed: bad}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncated", secret: "s", run: 7, env: "prod", mutate: func(t *testing.T, st *store.Store, sealed []byte) {
			if err := st.KeepPlans(ctx, 7, "prod", []store.SavedPlan{{Name: "prod.tfplan", Sealed: sealed[:5]}}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			v, err := planvault.New(st, "s")
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Keep(ctx, 7, "prod", map[string][]byte{"prod.tfplan": []byte("plan")}); err != nil {
				t.Fatal(err)
			}
			raw, _ := st.KeptPlans(ctx, 7, "prod")
			if tc.mutate != nil {
				tc.mutate(t, st, raw[0].Sealed)
			}
			reader, err := planvault.New(st, tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := reader.Fetch(ctx, tc.run, tc.env); !errors.Is(err, planvault.ErrTampered) {
				t.Fatalf("Fetch = %q, %v; want ErrTampered", got, err)
			}
		})
	}
	if _, err := planvault.New(openStore(t), ""); err == nil {
		t.Fatal("a vault without a secret was made")
	}
}
