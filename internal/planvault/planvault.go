// Package planvault keeps a run's saved Terraform plans in the store, sealed, so that the replica that
// applies an approved plan need not be the one that made it: replicas share the database, not their disks.
//
// A saved plan holds variable values and state, secrets included. The store only ever sees it sealed:
// AES-256-GCM under a key derived (HKDF-SHA256) from a secret every replica holds and the database does not
// (the webhook secret), with the run, environment and file name as associated data, so that a sealed plan
// cannot be moved to another run or environment. What is read back is checked again by the pipeline
// against the checksum that was shown and approved.
package planvault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gitops-runner/runner/internal/store"
)

// Store is where the sealed plans live (the runner's store).
type Store interface {
	KeepPlans(ctx context.Context, runID int64, env string, plans []store.SavedPlan) error
	KeptPlans(ctx context.Context, runID int64, env string) ([]store.SavedPlan, error)
}

// Vault seals plans into a Store and opens them back.
type Vault struct {
	st   Store
	aead cipher.AEAD
}

// keyInfo names the key's purpose in the derivation: another purpose of the same secret gets another key.
const keyInfo = "gitops-runner saved plans v1"

// New returns a Vault sealing with a key derived from secret, which must be the same on every replica.
func New(st Store, secret string) (*Vault, error) {
	if secret == "" {
		return nil, errors.New("plan vault: no secret to derive the key from")
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, keyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("plan vault: derive the key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("plan vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("plan vault: %w", err)
	}
	return &Vault{st: st, aead: aead}, nil
}

// Keep seals env's saved plan files (name → contents) and stores them as the run's plans of env, replacing
// any kept before.
func (v *Vault) Keep(ctx context.Context, runID int64, env string, files map[string][]byte) error {
	plans := make([]store.SavedPlan, 0, len(files))
	for name, data := range files {
		nonce := make([]byte, v.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("seal the plan %s: %w", name, err)
		}
		sealed := v.aead.Seal(nonce, nonce, data, aad(runID, env, name))
		plans = append(plans, store.SavedPlan{Name: name, Sealed: sealed})
	}
	return v.st.KeepPlans(ctx, runID, env, plans)
}

// ErrTampered is returned by Fetch for a sealed plan that does not open: altered in the database, moved from
// another run or environment, or sealed under another secret.
var ErrTampered = errors.New("a kept plan does not open")

// Fetch returns the run's kept plan files of env (name → contents); none kept is an empty map.
func (v *Vault) Fetch(ctx context.Context, runID int64, env string) (map[string][]byte, error) {
	plans, err := v.st.KeptPlans(ctx, runID, env)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(plans))
	n := v.aead.NonceSize()
	for _, p := range plans {
		if len(p.Sealed) < n+v.aead.Overhead() {
			return nil, fmt.Errorf("open the plan %s of run %d/%s: %w (too short)", p.Name, runID, env, ErrTampered)
		}
		data, err := v.aead.Open(nil, p.Sealed[:n], p.Sealed[n:], aad(runID, env, p.Name))
		if err != nil {
			return nil, fmt.Errorf("open the plan %s of run %d/%s: %w", p.Name, runID, env, ErrTampered)
		}
		out[p.Name] = data
	}
	return out, nil
}

func aad(runID int64, env, name string) []byte {
	return fmt.Appendf(nil, "run=%d\x00env=%s\x00file=%s", runID, env, name)
}
