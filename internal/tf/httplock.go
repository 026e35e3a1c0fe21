package tf

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// errHolderUnknown: the backend cannot be asked who holds its lock.
var errHolderUnknown = errors.New("the backend reports only the lock's ID, not who holds it")

// httpLockJSON is statemgr.LockInfo as the http backend sends and receives it.
type httpLockJSON struct {
	ID        string    `json:"ID"`
	Operation string    `json:"Operation"`
	Info      string    `json:"Info"`
	Who       string    `json:"Who"`
	Version   string    `json:"Version"`
	Created   time.Time `json:"Created"`
	Path      string    `json:"Path"`
}

// httpBackend is what the probe needs of an http backend's configuration.
type httpBackend struct {
	lockAddress, lockMethod, unlockAddress, unlockMethod string
	username, password                                   string
	skipVerify                                           bool
	caPEM, certPEM, keyPEM                               string
}

// httpLockHolder asks the workspace's http backend who holds its lock. Terraform 1.5's http backend
// prints the lock the failing command tried to take instead of the holder's (it only names the
// holder's ID), so the runner asks the backend itself the way Terraform does: a LOCK request, which the
// backend answers, when the lock is held, with the holder's lock info. A nil holder means the lock was
// free: the probe then took it, and gives it back at once. The configuration is the one init resolved
// (the data directory's backend state, over TF_HTTP_* of the command's environment, as Terraform reads
// it).
func (w *Workspace) httpLockHolder(ctx context.Context) (*LockInfo, error) {
	b, err := w.httpBackendConfig()
	if err != nil {
		return nil, err
	}
	client, err := b.client()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	probe, _ := json.Marshal(httpLockJSON{ID: "runner-probe-" + hex.EncodeToString(nonce), Operation: "RunnerProbe",
		Who: "runner@probe", Info: "asks who holds the lock; gives it back at once", Created: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := b.do(ctx, client, b.lockMethod, b.lockAddress, probe)
	if err != nil {
		return nil, fmt.Errorf("ask the http backend who holds the lock: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		// Free: the probe holds it now. Give it back with the same lock info, as Terraform unlocks.
		uresp, err := b.do(ctx, client, b.unlockMethod, b.unlockAddress, probe)
		if err != nil {
			return nil, fmt.Errorf("give back the lock the probe took: %w", err)
		}
		uresp.Body.Close()
		if uresp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("give back the lock the probe took: HTTP %d", uresp.StatusCode)
		}
		return nil, nil
	case http.StatusLocked, http.StatusConflict:
		var h httpLockJSON
		if err := json.Unmarshal(body, &h); err != nil || h.ID == "" {
			return nil, fmt.Errorf("%w: its answer holds no lock info", errHolderUnknown)
		}
		return &LockInfo{ID: bound(h.ID), Operation: bound(h.Operation), Info: bound(h.Info), Who: bound(h.Who),
			Version: bound(h.Version), Created: h.Created.UTC(), Path: bound(h.Path)}, nil
	default:
		return nil, fmt.Errorf("ask the http backend who holds the lock: HTTP %d", resp.StatusCode)
	}
}

func (w *Workspace) httpBackendConfig() (httpBackend, error) {
	raw, err := w.readBackendState()
	if err != nil {
		return httpBackend{}, fmt.Errorf("%w: read the backend configuration: %w", errHolderUnknown, err)
	}
	var st struct {
		Backend struct {
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		} `json:"backend"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return httpBackend{}, fmt.Errorf("%w: read the backend configuration: %w", errHolderUnknown, err)
	}
	if st.Backend.Type != "http" {
		return httpBackend{}, fmt.Errorf("%w (backend %q)", errHolderUnknown, st.Backend.Type)
	}
	get := func(key, def string) string {
		if v, ok := st.Backend.Config[key].(string); ok && v != "" {
			return v
		}
		if v := w.env["TF_HTTP_"+strings.ToUpper(key)]; v != "" {
			return v
		}
		return def
	}
	b := httpBackend{
		lockAddress: get("lock_address", ""), lockMethod: get("lock_method", "LOCK"),
		unlockAddress: get("unlock_address", ""), unlockMethod: get("unlock_method", "UNLOCK"),
		username: get("username", ""), password: get("password", ""),
		caPEM: get("client_ca_certificate_pem", ""), certPEM: get("client_certificate_pem", ""), keyPEM: get("client_private_key_pem", ""),
	}
	b.skipVerify, _ = st.Backend.Config["skip_cert_verification"].(bool)
	if b.lockAddress == "" || b.unlockAddress == "" {
		return httpBackend{}, fmt.Errorf("%w: the http backend has no lock and unlock address", errHolderUnknown)
	}
	for _, a := range []string{b.lockAddress, b.unlockAddress} {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return httpBackend{}, fmt.Errorf("%w: the http backend's lock address is not an http(s) URL", errHolderUnknown)
		}
	}
	return b, nil
}

// readBackendState reads the backend state init wrote in the data directory. Sandboxed Terraform writes
// there, so the file is opened inside the working directory's tree (a symlink cannot lead the runner out of
// it) and read up to a bound.
func (w *Workspace) readBackendState() ([]byte, error) {
	rel, err := filepath.Rel(w.opts.Dir, filepath.Join(w.DataDir(), "terraform.tfstate"))
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("the data directory %s is outside %s", w.DataDir(), w.opts.Dir)
	}
	root, err := os.OpenRoot(w.opts.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

func (b httpBackend) client() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: b.skipVerify} //nolint:gosec // the operator's own setting for this backend
	if b.caPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(b.caPEM)) {
			return nil, errors.New("http backend: client_ca_certificate_pem holds no certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if b.certPEM != "" {
		cert, err := tls.X509KeyPair([]byte(b.certPEM), []byte(b.keyPEM))
		if err != nil {
			return nil, fmt.Errorf("http backend: client certificate: %w", err)
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

func (b httpBackend) do(ctx context.Context, c *http.Client, method, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if b.username != "" {
		req.SetBasicAuth(b.username, b.password)
	}
	return c.Do(req)
}
