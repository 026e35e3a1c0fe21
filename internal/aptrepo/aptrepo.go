// Package aptrepo reads a Debian archive the way apt does, without apt: the suite's InRelease, whose
// OpenPGP signature must verify against the given keyring; the Packages index it lists, checked against
// the SHA-256 in the signed release; and .deb files checked against the index. It resolves a set of
// packages with everything they depend on, so that an image can be assembled from packages without
// running a package manager (or a container) to install them.
package aptrepo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"
	"pault.ag/go/debian/control"
	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Source is one suite of an archive, as a deb822 sources entry names it.
type Source struct {
	URL        string   // http://deb.debian.org/debian
	Suite      string   // bookworm
	Components []string // default main
}

// Config says where packages come from and how they are trusted.
type Config struct {
	Sources []Source
	// Arch is the Debian architecture (amd64, arm64); packages of architecture "all" come too.
	Arch string
	// Keyring verifies each suite's InRelease. It is required: an unsigned index is never used.
	Keyring openpgp.EntityList
	// Cache holds downloaded indexes and packages by SHA-256, so a rebuild fetches only what changed.
	// "" means no cache.
	Cache  string
	Client *http.Client
	// Now is the clock a release's Valid-Until is checked against (default time.Now).
	Now func() time.Time
}

// Package is one binary package of the index.
type Package struct {
	Name, Version, Arch string
	Filename            string // path below the source's URL
	Size                int64
	SHA256              string
	Essential           bool
	Priority            string

	url      string // the source's URL
	depends  string // Pre-Depends and Depends, raw
	provides []string
}

// URL is where the package file is.
func (p Package) URL() string { return strings.TrimSuffix(p.url, "/") + "/" + p.Filename }

// Index is the packages of every source, newest version of each name.
type Index struct {
	cfg      Config
	pkgs     map[string]Package
	provides map[string][]string // virtual name -> real packages providing it
}

// ReadKeyring reads an OpenPGP keyring file, binary (as in /usr/share/keyrings) or armored.
func ReadKeyring(file string) (openpgp.EntityList, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the keyring: %w", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(raw))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(raw))
}

// Load reads and verifies every source's index.
func Load(ctx context.Context, cfg Config) (*Index, error) {
	if len(cfg.Keyring) == 0 {
		return nil, errors.New("aptrepo: no keyring: an archive's index is used only when its signature verifies")
	}
	if cfg.Arch == "" {
		return nil, errors.New("aptrepo: no architecture")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ix := &Index{cfg: cfg, pkgs: map[string]Package{}, provides: map[string][]string{}}
	for _, src := range cfg.Sources {
		if err := ix.load(ctx, src); err != nil {
			return nil, fmt.Errorf("aptrepo: %s %s: %w", src.URL, src.Suite, err)
		}
	}
	for name := range ix.provides {
		sort.Strings(ix.provides[name])
	}
	return ix, nil
}

// release is the part of a suite's Release file that matters here.
type release struct {
	files      map[string]fileSum // path below dists/<suite>/ -> checksum
	validUntil string
}

type fileSum struct {
	sha256 string
	size   int64
}

func (ix *Index) load(ctx context.Context, src Source) error {
	base := strings.TrimSuffix(src.URL, "/") + "/dists/" + src.Suite + "/"
	raw, err := ix.get(ctx, base+"InRelease", fileSum{size: -1})
	if err != nil {
		return err
	}
	rel, err := ix.verifyRelease(raw)
	if err != nil {
		return fmt.Errorf("InRelease: %w", err)
	}
	comps := src.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	for _, comp := range comps {
		var data []byte
		for _, name := range []string{"Packages.xz", "Packages.gz"} {
			rp := comp + "/binary-" + ix.cfg.Arch + "/" + name
			sum, ok := rel.files[rp]
			if !ok {
				continue
			}
			packed, err := ix.get(ctx, base+rp, sum)
			if err != nil {
				return err
			}
			if data, err = unpack(name, packed); err != nil {
				return fmt.Errorf("%s: %w", rp, err)
			}
			break
		}
		if data == nil {
			return fmt.Errorf("the signed release lists no Packages.xz or Packages.gz for %s/%s", comp, ix.cfg.Arch)
		}
		if err := ix.add(src.URL, data); err != nil {
			return fmt.Errorf("%s/binary-%s: %w", comp, ix.cfg.Arch, err)
		}
	}
	return nil
}

// verifyRelease checks the clear-signed release against the keyring and reads its SHA-256 list.
func (ix *Index) verifyRelease(raw []byte) (release, error) {
	if !bytes.HasPrefix(raw, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return release{}, errors.New("not a clear-signed release")
	}
	kr := ix.cfg.Keyring
	pr, err := control.NewParagraphReader(bytes.NewReader(raw), &kr)
	if err != nil {
		return release{}, fmt.Errorf("signature: %w", err)
	}
	if pr.Signer() == nil {
		return release{}, errors.New("signature: no key of the keyring signed it")
	}
	p, err := pr.Next()
	if err != nil {
		return release{}, fmt.Errorf("read: %w", err)
	}
	rel := release{files: map[string]fileSum{}, validUntil: p.Values["Valid-Until"]}
	if rel.validUntil != "" {
		t, err := time.Parse(time.RFC1123, rel.validUntil)
		if err != nil {
			t, err = time.Parse("Mon, 2 Jan 2006 15:04:05 MST", rel.validUntil)
		}
		if err != nil {
			return release{}, fmt.Errorf("Valid-Until %q: %w", rel.validUntil, err)
		}
		if ix.cfg.Now().After(t) {
			return release{}, fmt.Errorf("expired on %s: a mirror serving an old release is not trusted", rel.validUntil)
		}
	}
	for _, line := range strings.Split(p.Values["SHA256"], "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 || !isSHA256(f[0]) {
			return release{}, fmt.Errorf("SHA256 line %q", line)
		}
		rel.files[f[2]] = fileSum{sha256: strings.ToLower(f[0]), size: size}
	}
	if len(rel.files) == 0 {
		return release{}, errors.New("no SHA256 checksums")
	}
	return rel, nil
}

func unpack(name string, packed []byte) ([]byte, error) {
	var r io.Reader
	switch path.Ext(name) {
	case ".xz":
		x, err := xz.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, err
		}
		r = x
	case ".gz":
		g, err := gzip.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, err
		}
		r = g
	default:
		return packed, nil
	}
	return io.ReadAll(r)
}

// add reads a Packages index; a name seen already keeps its newer version.
func (ix *Index) add(url string, data []byte) error {
	pr, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return err
	}
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		v := p.Values
		arch := v["Architecture"]
		if arch != ix.cfg.Arch && arch != "all" {
			continue
		}
		size, _ := strconv.ParseInt(v["Size"], 10, 64)
		pkg := Package{Name: v["Package"], Version: v["Version"], Arch: arch, Filename: v["Filename"], Size: size,
			SHA256: strings.ToLower(v["SHA256"]), Essential: v["Essential"] == "yes", Priority: v["Priority"],
			url: url, depends: joinRel(v["Pre-Depends"], v["Depends"])}
		// The checksum names the file in the cache: 64 hex digits, never a path.
		if pkg.Name == "" || pkg.Filename == "" || !isSHA256(pkg.SHA256) || size < 0 {
			continue
		}
		if old, ok := ix.pkgs[pkg.Name]; ok && newer(old.Version, pkg.Version) {
			continue
		}
		if prov := v["Provides"]; prov != "" {
			if d, err := dependency.Parse(prov); err == nil {
				for _, r := range d.Relations {
					for _, p := range r.Possibilities {
						pkg.provides = append(pkg.provides, p.Name)
					}
				}
			}
		}
		ix.pkgs[pkg.Name] = pkg
		for _, name := range pkg.provides {
			ix.provides[name] = appendOnce(ix.provides[name], pkg.Name)
		}
	}
}

// isSHA256 reports whether s is a SHA-256 in hex (either case).
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// newer reports whether version a is newer than b.
func newer(a, b string) bool {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	if errA != nil || errB != nil {
		return a > b
	}
	return version.Compare(va, vb) > 0
}

func joinRel(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ", " + b
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Package returns the package of that name.
func (ix *Index) Package(name string) (Package, bool) {
	p, ok := ix.pkgs[name]
	return p, ok
}

// Resolve returns the packages named and everything they depend on (Pre-Depends and Depends, not
// Recommends), sorted by name. Of alternatives ("a | b") the first available one is taken, unless another
// is in the set already; a virtual name is satisfied by a package that provides it. Exclude names
// dependencies left out on purpose (dpkg's own, say, when nothing will run it).
func (ix *Index) Resolve(names []string, exclude []string) ([]Package, error) {
	skip := map[string]bool{}
	for _, n := range exclude {
		skip[n] = true
	}
	chosen := map[string]bool{}
	var queue []string
	for _, n := range names {
		if _, ok := ix.pkgs[n]; !ok {
			return nil, fmt.Errorf("no package %s in the index", n)
		}
		if !chosen[n] {
			chosen[n] = true
			queue = append(queue, n)
		}
	}
	satisfied := func(name string) bool {
		if chosen[name] || skip[name] {
			return true
		}
		for _, p := range ix.provides[name] {
			if chosen[p] {
				return true
			}
		}
		return false
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		pkg := ix.pkgs[n]
		if pkg.depends == "" {
			continue
		}
		dep, err := dependency.Parse(pkg.depends)
		if err != nil {
			return nil, fmt.Errorf("%s: Depends: %w", n, err)
		}
		for _, rel := range dep.Relations {
			var alts []string
			done := false
			for _, p := range rel.Possibilities {
				if p.Arch != nil && p.Arch.CPU != "any" && p.Arch.CPU != ix.cfg.Arch {
					continue
				}
				if satisfied(p.Name) {
					done = true
					break
				}
				alts = append(alts, p.Name)
			}
			if done {
				continue
			}
			pick := ""
			for _, a := range alts {
				if _, ok := ix.pkgs[a]; ok {
					pick = a
					break
				}
				if prov := ix.provides[a]; len(prov) > 0 {
					pick = prov[0]
					break
				}
			}
			if pick == "" {
				return nil, fmt.Errorf("%s depends on %s, which no source has", n, strings.Join(alts, " | "))
			}
			chosen[pick] = true
			queue = append(queue, pick)
		}
	}
	out := make([]Package, 0, len(chosen))
	for n := range chosen {
		out = append(out, ix.pkgs[n])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Fetch downloads a package file (or finds it in the cache) and checks it against the signed index;
// it returns the file's path.
func (ix *Index) Fetch(ctx context.Context, p Package) (string, error) {
	sum := fileSum{sha256: p.SHA256, size: p.Size}
	if ix.cfg.Cache != "" {
		cached := filepath.Join(ix.cfg.Cache, "sha256", p.SHA256)
		if ok, _ := hasSum(cached, sum); ok {
			return cached, nil
		}
	}
	data, err := ix.get(ctx, p.URL(), sum)
	if err != nil {
		return "", fmt.Errorf("aptrepo: %s: %w", p.Name, err)
	}
	dir := ix.cfg.Cache
	if dir == "" {
		if dir, err = os.MkdirTemp("", "aptrepo"); err != nil {
			return "", err
		}
	}
	file := filepath.Join(dir, "sha256", p.SHA256)
	if err := writeAtomic(file, data); err != nil {
		return "", fmt.Errorf("aptrepo: keep %s: %w", p.Name, err)
	}
	return file, nil
}

// get fetches url; with a checksum it must match (the cache answers first).
func (ix *Index) get(ctx context.Context, url string, want fileSum) ([]byte, error) {
	if want.sha256 != "" && ix.cfg.Cache != "" {
		if b, err := os.ReadFile(filepath.Join(ix.cfg.Cache, "sha256", want.sha256)); err == nil && sumOf(b) == want.sha256 {
			return b, nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ix.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	limit := int64(1 << 30)
	if want.size >= 0 && want.sha256 != "" {
		limit = want.size + 1
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if want.sha256 != "" {
		if int64(len(b)) != want.size {
			return nil, fmt.Errorf("GET %s: %d bytes, the signed index says %d", url, len(b), want.size)
		}
		if got := sumOf(b); got != want.sha256 {
			return nil, fmt.Errorf("GET %s: sha256 %s, the signed index says %s", url, got, want.sha256)
		}
		if ix.cfg.Cache != "" {
			_ = writeAtomic(filepath.Join(ix.cfg.Cache, "sha256", want.sha256), b)
		}
	}
	return b, nil
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hasSum(file string, want fileSum) (bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	return int64(len(b)) == want.size && sumOf(b) == want.sha256, nil
}

func writeAtomic(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".part-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), file)
}
