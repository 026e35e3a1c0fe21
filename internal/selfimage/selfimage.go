// Package selfimage builds the runner's own container image without a Docker daemon: an operating system
// layer assembled from Debian packages (read from a Debian archive whose signed index verifies; see
// internal/aptrepo), Terraform at a pinned version whose checksum is verified, and the runner and its
// sandbox launcher built from source. The image runs as a non-root user; the sandbox isolates Terraform
// there with bubblewrap (user namespaces), which the image carries.
package selfimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sync/errgroup"
	"pault.ag/go/debian/deb"

	"github.com/gitops-runner/runner/internal/aptrepo"
	"github.com/gitops-runner/runner/internal/proc"
)

// The image's user, and where the runner keeps its data.
const (
	UID     = 10001
	User    = "runner"
	DataDir = "/var/lib/runner"
)

// DefaultPackages are the Debian packages of the runtime image (with what they depend on): git for
// module sources and the git transport, bubblewrap for the sandbox, CA certificates, dash for /bin/sh
// (Terraform's local-exec), time zones and the network databases.
var DefaultPackages = []string{"base-files", "bubblewrap", "ca-certificates", "dash", "git", "netbase", "tzdata"}

// excluded dependencies are the package manager's own: nothing in the image runs maintainer scripts.
var excluded = []string{"debconf", "dpkg", "tar"}

// DefaultSources are Debian bookworm with its updates and security fixes.
var DefaultSources = []aptrepo.Source{
	{URL: "http://deb.debian.org/debian", Suite: "bookworm"},
	{URL: "http://deb.debian.org/debian", Suite: "bookworm-updates"},
	{URL: "http://deb.debian.org/debian-security", Suite: "bookworm-security"},
}

// DefaultKeyring is Debian's archive keyring as Debian and Ubuntu hosts carry it.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Terraform says where the image's Terraform comes from; its bytes are checked either way.
type Terraform struct {
	// Version is the version it must report, e.g. "1.5.7".
	Version string
	// Binary is a Terraform executable on this machine, used when SHA256 (hex) matches it.
	Binary, SHA256 string
	// ModuleSum, used when Binary is empty, is the Go checksum database hash ("h1:...") of the module
	// github.com/hashicorp/terraform at v<Version>: Terraform is built from that source (the go command
	// verifies every dependency against the module's own go.sum).
	ModuleSum string
}

// PinnedTerraform is Terraform 1.5.7 (the last release under the MPL), built from its module source.
var PinnedTerraform = Terraform{Version: "1.5.7", ModuleSum: "h1:HL+iEBdp6mC/tqQM1F5jA5y32CbxXPwyiNQyYSXVzw0="}

// Options say what to build.
type Options struct {
	// Source is the runner's module root (its go.mod); the runner and runner-sandbox are built from it.
	Source string
	// Revision and SourceURL become the OCI labels; Created (the commit time) is the image's time and
	// every file's, so that the same inputs give the same digest.
	Revision, SourceURL string
	Created             time.Time
	// Arch is the Debian and Go architecture: amd64 (default) or arm64.
	Arch string
	// Sources, Keyring and Cache: where Debian packages come from, the keyring their index must verify
	// against (a file), and a directory keeping downloads between builds.
	Sources []aptrepo.Source
	Keyring string
	Cache   string
	// Packages are Debian packages added to DefaultPackages (nodejs and npm to build front-end bundles).
	Packages  []string
	Terraform Terraform
	// GoRoot, when set, is a Go toolchain copied to /usr/local/go: the deploy stages build image apps
	// with it. Its architecture must be Arch's.
	GoRoot string
	Log    io.Writer
}

// Result is the built image and what went into it.
type Result struct {
	Image    v1.Image
	Digest   string
	Packages []aptrepo.Package
	// TerraformSHA256 is the checksum of the Terraform binary in the image.
	TerraformSHA256 string
}

// Build assembles the image.
func Build(ctx context.Context, o Options) (Result, error) {
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return Result{}, fmt.Errorf("architecture %q: use amd64 or arm64", o.Arch)
	}
	if o.Sources == nil {
		o.Sources = DefaultSources
	}
	if o.Keyring == "" {
		o.Keyring = DefaultKeyring
	}
	if o.Terraform.Version == "" {
		o.Terraform = PinnedTerraform
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if _, err := os.Stat(filepath.Join(o.Source, "cmd", "runner")); err != nil {
		return Result{}, fmt.Errorf("the runner's source: %s has no cmd/runner (give the repository's root)", o.Source)
	}
	var res Result
	var osLayer, tfLayer, runnerLayer, goLayer v1.Layer
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		l, pkgs, err := packagesLayer(gctx, o)
		osLayer, res.Packages = l, pkgs
		return err
	})
	g.Go(func() error {
		l, sum, err := terraformLayer(gctx, o)
		tfLayer, res.TerraformSHA256 = l, sum
		return err
	})
	g.Go(func() error {
		l, err := runnerBinaries(gctx, o)
		runnerLayer = l
		return err
	})
	if o.GoRoot != "" {
		g.Go(func() error {
			l, err := goToolchain(o)
			goLayer = l
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	layers := []v1.Layer{osLayer, tfLayer}
	if goLayer != nil {
		layers = append(layers, goLayer)
	}
	layers = append(layers, runnerLayer)
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return Result{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Result{}, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.Arch, "linux"
	if !o.Created.IsZero() {
		cf.Created = v1.Time{Time: o.Created.UTC()}
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	if o.GoRoot != "" {
		path = "/usr/local/go/bin:" + path
	}
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, UID),
		Entrypoint:   []string{"/usr/local/bin/runner"},
		Cmd:          []string{"serve"},
		WorkingDir:   DataDir,
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Env: []string{"PATH=" + path, "HOME=" + DataDir, "RUNNER_DATA_DIR=" + DataDir, "RUNNER_LISTEN=:8080",
			"TF_IN_AUTOMATION=1", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
			"GOCACHE=" + DataDir + "/go-cache", "GOPATH=" + DataDir + "/go"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "gitops-runner",
			"org.opencontainers.image.source":      o.SourceURL,
			"org.opencontainers.image.revision":    o.Revision,
			"io.gitops-runner.terraform.version":   o.Terraform.Version,
			"io.gitops-runner.terraform.sha256":    res.TerraformSHA256,
			"io.gitops-runner.debian.packages.sum": packagesSum(res.Packages),
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return Result{}, err
	}
	if !o.Created.IsZero() {
		if img, err = mutate.CreatedAt(img, v1.Time{Time: o.Created.UTC()}); err != nil {
			return Result{}, err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	res.Image, res.Digest = img, d.String()
	return res, nil
}

// packagesSum identifies the package set (names, versions and file checksums) in one label.
func packagesSum(pkgs []aptrepo.Package) string {
	h := sha256.New()
	for _, p := range pkgs {
		fmt.Fprintf(h, "%s %s %s\n", p.Name, p.Version, p.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keepPath leaves documentation out of the image, but for each package's copyright file.
func keepPath(name string) bool {
	for _, p := range []string{"usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/lintian/", "usr/share/bug/"} {
		if strings.HasPrefix(name+"/", p) {
			return false
		}
	}
	if strings.HasPrefix(name, "usr/share/doc/") {
		parts := strings.Split(name, "/") // usr share doc <package> [copyright]
		return len(parts) == 4 || len(parts) == 5 && parts[4] == "copyright"
	}
	return true
}

// packagesLayer resolves, fetches and unpacks the Debian packages, and adds what their maintainer
// scripts would have made: the CA bundle, /bin/sh, the users, and dpkg's record of what is installed
// (which image scanners read).
func packagesLayer(ctx context.Context, o Options) (v1.Layer, []aptrepo.Package, error) {
	kr, err := aptrepo.ReadKeyring(o.Keyring)
	if err != nil {
		return nil, nil, fmt.Errorf("debian packages: %w", err)
	}
	cache := ""
	if o.Cache != "" {
		cache = filepath.Join(o.Cache, "apt")
	}
	ix, err := aptrepo.Load(ctx, aptrepo.Config{Sources: o.Sources, Arch: o.Arch, Keyring: kr, Cache: cache})
	if err != nil {
		return nil, nil, fmt.Errorf("debian packages: %w", err)
	}
	want := append(append([]string{}, DefaultPackages...), o.Packages...)
	pkgs, err := ix.Resolve(want, excluded)
	if err != nil {
		return nil, nil, fmt.Errorf("debian packages: %w", err)
	}
	fmt.Fprintf(o.Log, "debian: %d packages (%s and what they depend on)\n", len(pkgs), strings.Join(want, ", "))
	files := make([]string, len(pkgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, p := range pkgs {
		g.Go(func() error {
			f, err := ix.Fetch(gctx, p)
			files[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	t := newTree()
	t.usrLinks()
	for i, p := range pkgs {
		if err := unpackDeb(t, files[i], p); err != nil {
			return nil, nil, fmt.Errorf("debian package %s: %w", p.Name, err)
		}
	}
	if _, ok := t.files["usr/bin/sh"]; !ok {
		t.symlink("usr/bin/sh", "dash")
	}
	var certs []string
	for name, f := range t.files {
		if strings.HasPrefix(name, "usr/share/ca-certificates/") && strings.HasSuffix(name, ".crt") && f.hdr.Typeflag == tar.TypeReg {
			certs = append(certs, name)
		}
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("debian packages: no CA certificates in ca-certificates")
	}
	sort.Strings(certs)
	var bundle bytes.Buffer
	for _, c := range certs {
		bundle.Write(bytes.TrimSpace(t.files[c].data))
		bundle.WriteByte('\n')
	}
	t.write("etc/ssl/certs/ca-certificates.crt", 0o644, bundle.Bytes())
	t.write("etc/passwd", 0o644, []byte(fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n%s:x:%d:%d:gitops runner:%s:/usr/sbin/nologin\n", User, UID, UID, DataDir)))
	t.write("etc/group", 0o644, []byte(fmt.Sprintf("root:x:0:\nnogroup:x:65534:\n%s:x:%d:\n", User, UID)))
	t.write("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"))
	t.dir("tmp", 0o1777, 0)
	t.dir("root", 0o700, 0)
	t.dir("var/lib", 0o755, 0)
	t.dir(strings.TrimPrefix(DataDir, "/"), 0o700, UID)
	layer, err := t.layer(o.Created)
	return layer, pkgs, err
}

// unpackDeb adds a package's files and its dpkg status record.
func unpackDeb(t *tree, file string, p aptrepo.Package) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := deb.Load(f, file)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.Control.Package != p.Name {
		return fmt.Errorf("the file holds package %s", d.Control.Package)
	}
	if err := t.readTar(d.Data, keepPath); err != nil {
		return err
	}
	var status bytes.Buffer
	para := d.Control.Paragraph
	para.Set("Status", "install ok installed")
	if err := para.WriteTo(&status); err != nil {
		return err
	}
	t.write("var/lib/dpkg/status.d/"+p.Name, 0o644, status.Bytes())
	return nil
}

// terraformLayer puts a verified Terraform at /usr/local/bin/terraform.
func terraformLayer(ctx context.Context, o Options) (v1.Layer, string, error) {
	tf := o.Terraform
	bin := tf.Binary
	if bin == "" {
		if tf.ModuleSum == "" {
			return nil, "", errors.New("terraform: give a binary with its SHA-256, or the module's checksum to build it from source")
		}
		built, err := buildTerraform(ctx, o)
		if err != nil {
			return nil, "", err
		}
		bin = built
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, "", fmt.Errorf("terraform: %w", err)
	}
	sum := digestOf(data)
	if tf.Binary != "" && !strings.EqualFold(sum, tf.SHA256) {
		return nil, "", fmt.Errorf("terraform: %s has sha256 %s, not the %s pinned: refusing it", tf.Binary, sum, tf.SHA256)
	}
	if tf.Binary != "" && o.Arch == goArch() {
		// A binary of this machine's architecture says its version; one that is not Version is refused.
		cmd := exec.CommandContext(ctx, bin, "version", "-json")
		cmd.Env = []string{"CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null", "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		var v struct {
			Version string `json:"terraform_version"`
		}
		if err != nil || json.Unmarshal(out, &v) != nil {
			return nil, "", fmt.Errorf("terraform: %s version -json: %v%s", bin, err, stderrOf(err))
		}
		if v.Version != tf.Version {
			return nil, "", fmt.Errorf("terraform: %s is v%s, not v%s", bin, v.Version, tf.Version)
		}
	}
	fmt.Fprintf(o.Log, "terraform %s: sha256 %s\n", tf.Version, sum)
	t := newTree()
	t.write("usr/local/bin/terraform", 0o755, data)
	l, err := t.layer(o.Created)
	return l, sum, err
}

// buildTerraform builds Terraform from the module source after checking its checksum database hash.
func buildTerraform(ctx context.Context, o Options) (string, error) {
	mod := "github.com/hashicorp/terraform@v" + o.Terraform.Version
	fmt.Fprintf(o.Log, "terraform: building %s from source (minutes the first time; the Go build cache keeps it)\n", mod)
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	dl.Env = goEnv(o.Arch)
	out, err := dl.Output()
	if err != nil {
		return "", fmt.Errorf("terraform: go mod download %s: %w%s", mod, err, stderrOf(err))
	}
	var info struct{ Dir, Sum string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("terraform: go mod download: %w", err)
	}
	if info.Sum != o.Terraform.ModuleSum {
		return "", fmt.Errorf("terraform: module %s has checksum %s, not the %s pinned: refusing it", mod, info.Sum, o.Terraform.ModuleSum)
	}
	dir, err := os.MkdirTemp("", "terraform-build")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "terraform")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, ".")
	build.Dir = info.Dir
	build.Env = goEnv(o.Arch)
	build.Stdout, build.Stderr = o.Log, o.Log
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("terraform: go build: %w", err)
	}
	return bin, nil
}

// runnerBinaries builds the runner and its sandbox launcher, static, into /usr/local/bin.
func runnerBinaries(ctx context.Context, o Options) (v1.Layer, error) {
	dir, err := os.MkdirTemp("", "runner-build")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	t := newTree()
	for _, name := range []string{"runner", "runner-sandbox"} {
		out := filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-o", out, "./cmd/"+name)
		cmd.Dir = o.Source
		cmd.Env = goEnv(o.Arch)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, stderr.String())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		t.write("usr/local/bin/"+name, 0o755, data)
		fmt.Fprintf(o.Log, "%s: built, %.1f MiB\n", name, float64(len(data))/(1<<20))
	}
	return t.layer(o.Created)
}

// goToolchain copies a Go toolchain to /usr/local/go, without its tests and documentation.
func goToolchain(o Options) (v1.Layer, error) {
	t := newTree()
	skipDirs := map[string]bool{"test": true, "doc": true, "misc": true, "api": true, ".git": true}
	err := filepath.WalkDir(o.GoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.GoRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (d.Name() == "testdata" || (!strings.Contains(rel, "/") && skipDirs[rel])) {
			return filepath.SkipDir
		}
		if rel == "." || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		name := "usr/local/go/" + rel
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			t.dir(name, 0o755, 0)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			t.symlink(name, target)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			t.write(name, int64(info.Mode().Perm()|0o444), data)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy the Go toolchain %s: %w", o.GoRoot, err)
	}
	return t.layer(o.Created)
}

func goArch() string { return runtime.GOARCH }

func goEnv(arch string) []string {
	env := proc.Inherit(os.Environ(), []string{"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB",
		"GOFLAGS", "GOTOOLCHAIN", "GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOENV", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"}, nil)
	return append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
