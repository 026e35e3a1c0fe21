package aptrepo_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/gitops-runner/runner/internal/aptrepo"
)

// archive is a Debian archive on loopback: one suite, signed by key.
type archive struct {
	files map[string][]byte
}

func (a *archive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := a.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("archive", "test", "archive@example.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// build writes the suite: its packages' files, the Packages index, and the Release signed by signer
// (nil: unsigned). tamper changes the index after the release names its checksum.
func build(t *testing.T, signer *openpgp.Entity, validUntil string, tamper bool) *archive {
	t.Helper()
	a := &archive{files: map[string][]byte{}}
	debs := map[string][]byte{"a": []byte("deb a"), "b": []byte("deb b"), "c": []byte("deb c"), "d": []byte("deb d"), "e": []byte("deb e")}
	var idx bytes.Buffer
	for _, p := range []struct{ name, version, extra string }{
		{"a", "1.0", "Depends: b | c, virt, libc (>= 2)\n"},
		{"b", "1.0", "Pre-Depends: libc\n"},
		{"b", "2.0", "Pre-Depends: libc\n"}, // the newer one wins
		{"c", "1.0", ""},
		{"d", "1.0", "Provides: virt\n"},
		{"e", "1.0", "Architecture: arm64\n"},
		{"libc", "2.36", ""},
	} {
		data := debs[p.name]
		if data == nil {
			data = []byte("deb " + p.name)
		}
		file := fmt.Sprintf("pool/main/%s_%s_amd64.deb", p.name, p.version)
		a.files["/debian/"+file] = data
		arch := "Architecture: amd64\n"
		if strings.HasPrefix(p.extra, "Architecture:") {
			arch = ""
		}
		fmt.Fprintf(&idx, "Package: %s\nVersion: %s\n%s%sFilename: %s\nSize: %d\nSHA256: %s\n\n", p.name, p.version, arch, p.extra, file, len(data), sum(data))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(idx.Bytes())
	zw.Close()
	packed := gz.Bytes()
	a.files["/debian/dists/stable/main/binary-amd64/Packages.gz"] = packed
	release := "Origin: Test\nSuite: stable\n"
	if validUntil != "" {
		release += "Valid-Until: " + validUntil + "\n"
	}
	release += fmt.Sprintf("SHA256:\n %s %d main/binary-amd64/Packages.gz\n", sum(packed), len(packed))
	if tamper {
		a.files["/debian/dists/stable/main/binary-amd64/Packages.gz"] = append([]byte{}, append(packed, 0)...)
	}
	if signer == nil {
		a.files["/debian/dists/stable/InRelease"] = []byte(release)
		return a
	}
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, signer.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(release))
	w.Close()
	a.files["/debian/dists/stable/InRelease"] = signed.Bytes()
	return a
}

func load(t *testing.T, a *archive, trusted *openpgp.Entity) (*aptrepo.Index, error) {
	t.Helper()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return aptrepo.Load(context.Background(), aptrepo.Config{Arch: "amd64", Keyring: openpgp.EntityList{trusted}, Cache: t.TempDir(),
		Sources: []aptrepo.Source{{URL: srv.URL + "/debian", Suite: "stable"}}})
}

func TestResolveFollowsDependenciesOfASignedIndex(t *testing.T) {
	key := newKey(t)
	ix, err := load(t, build(t, key, "", false), key)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"="+p.Version)
	}
	// b (first alternative, newest version), d for the virtual name, libc through both; not c, not e (arm64).
	if strings.Join(got, " ") != "a=1.0 b=2.0 d=1.0 libc=2.36" {
		t.Fatalf("resolved %v", got)
	}
	if pkgs, err := ix.Resolve([]string{"a"}, []string{"libc"}); err != nil || len(pkgs) != 3 {
		t.Fatalf("with libc excluded: %v, %v", pkgs, err)
	}
	if _, err := ix.Resolve([]string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), "no package nope") {
		t.Fatalf("unknown package: %v", err)
	}
	f, err := ix.Fetch(context.Background(), pkgs[0])
	if err != nil || !strings.HasSuffix(f, pkgs[0].SHA256) {
		t.Fatalf("fetch = %s, %v", f, err)
	}
}

func TestLoadRefusesWhatTheKeyringDidNotSign(t *testing.T) {
	key, other := newKey(t), newKey(t)
	for _, tc := range []struct {
		name    string
		a       *archive
		trusted *openpgp.Entity
		want    string
	}{
		{"unsigned", build(t, nil, "", false), key, "not a clear-signed release"},
		{"signed by another key", build(t, other, "", false), key, "signature"},
		{"index changed after signing", build(t, key, "", true), key, "the signed index says"},
		{"expired", build(t, key, time.Now().Add(-time.Hour).UTC().Format(time.RFC1123), false), key, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := load(t, tc.a, tc.trusted); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := load(t, build(t, key, time.Now().Add(time.Hour).UTC().Format(time.RFC1123), false), key); err != nil {
		t.Fatalf("a release valid for an hour more: %v", err)
	}
}

func TestFetchRefusesAPackageThatIsNotTheIndexed(t *testing.T) {
	key := newKey(t)
	a := build(t, key, "", false)
	ix, err := load(t, a, key)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ix.Package("c")
	a.files["/debian/"+p.Filename] = []byte("deb C") // same size, other bytes
	if _, err := ix.Fetch(context.Background(), p); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("a package of other bytes: %v", err)
	}
}
