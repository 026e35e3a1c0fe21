package aptrepo

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

const seedIndex = `Package: a
Version: 1.0
Architecture: amd64
Depends: b | c, virt, libc (>= 2) [amd64]
Filename: pool/main/a_1.0_amd64.deb
Size: 5
SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

Package: d
Version: 1:2.0~rc1-3
Architecture: all
Provides: virt (= 1)
Pre-Depends: a
Filename: pool/main/d.deb
Size: 1
SHA256: 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef
`

// A Packages index is the archive's text (signed, but by a mirror's owner): reading it never panics, a
// package it keeps has a checksum that is hex (it names the cache file, so never a path), and resolving
// every name it holds ends.
func FuzzPackagesIndex(f *testing.F) {
	f.Add([]byte(seedIndex))
	f.Add([]byte("Package: x\nArchitecture: all\nFilename: x\nSHA256: " + strings.Repeat("../", 18) + "etc/passwd\n")) // 64 characters
	f.Add([]byte("Package: a\nDepends: a | a, a\nFilename: a\nSHA256: " + strings.Repeat("0", 64) + "\nArchitecture: all\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix := &Index{cfg: Config{Arch: "amd64"}, pkgs: map[string]Package{}, provides: map[string][]string{}}
		if err := ix.add("http://127.0.0.1/debian", data); err != nil {
			return
		}
		var names []string
		for name, p := range ix.pkgs {
			if !isSHA256(p.SHA256) || strings.ContainsAny(p.SHA256, "/.") {
				t.Fatalf("package %s kept with checksum %q", name, p.SHA256)
			}
			if filepath.Base(filepath.Join("cache", "sha256", p.SHA256)) != p.SHA256 {
				t.Fatalf("checksum %q is not a plain file name", p.SHA256)
			}
			names = append(names, name)
		}
		if len(names) > 0 {
			_, _ = ix.Resolve(names, nil)
		}
	})
}

// A suite's InRelease comes from a mirror: nothing but a release the keyring signed is read, and reading
// never panics.
func FuzzRelease(f *testing.F) {
	key, err := openpgp.NewEntity("archive", "fuzz", "archive@example.invalid", nil)
	if err != nil {
		f.Fatal(err)
	}
	sign := func(text string) []byte {
		var b bytes.Buffer
		w, err := clearsign.Encode(&b, key.PrivateKey, nil)
		if err != nil {
			f.Fatal(err)
		}
		w.Write([]byte(text))
		w.Close()
		return b.Bytes()
	}
	good := "Origin: Test\nValid-Until: Sat, 01 Jan 2095 00:00:00 UTC\nSHA256:\n " + strings.Repeat("a", 64) + " 12 main/binary-amd64/Packages.gz\n"
	f.Add(sign(good))
	f.Add(sign("SHA256:\n " + strings.Repeat("/", 64) + " 12 x\n"))
	f.Add([]byte(good))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + good + "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"))
	ix := &Index{cfg: Config{Arch: "amd64", Keyring: openpgp.EntityList{key}, Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rel, err := ix.verifyRelease(raw)
		if err != nil {
			return
		}
		if len(rel.files) == 0 {
			t.Fatal("a release without checksums was accepted")
		}
		for name, fs := range rel.files {
			if !isSHA256(fs.sha256) || fs.size < 0 {
				t.Fatalf("%s: checksum %q size %d accepted", name, fs.sha256, fs.size)
			}
		}
	})
}
