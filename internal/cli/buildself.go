package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-runner/runner/internal/selfimage"
)

// BuildSelf builds the runner's own image without a Docker daemon: Debian packages from a signed archive,
// Terraform checksum-verified, the runner from the source at --src; it writes an OCI layout (--out), a
// tarball for `docker load` (--tar), or pushes (--push).
func BuildSelf(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("build-self", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	src := fs.String("src", ".", "the runner's repository (its root, with go.mod)")
	arch := fs.String("arch", runtime.GOARCH, "architecture: amd64 or arm64")
	out := fs.String("out", "", "write the image as an OCI image layout in this directory")
	tarFile := fs.String("tar", "", "write the image as a tarball that docker load reads")
	push := fs.String("push", "", "push the image to this reference (registry/repository:tag), with the Docker config's credentials")
	tfBin := fs.String("terraform", "", "a Terraform binary to use (needs --terraform-sha256); default: build the pinned version from source")
	tfSum := fs.String("terraform-sha256", "", "the SHA-256 the Terraform binary must have")
	tfVersion := fs.String("terraform-version", selfimage.PinnedTerraform.Version, "the version the Terraform binary must report")
	goRoot := fs.String("go-root", "", `the Go toolchain to copy in (image apps are built with it); default this machine's, "none" to leave it out`)
	keyring := fs.String("keyring", selfimage.DefaultKeyring, "the keyring Debian's archive index must verify against")
	cache := fs.String("cache", "", "where downloads are kept between builds (default the user cache directory)")
	var pkgs multiFlag
	fs.Var(&pkgs, "package", "a Debian package to add (repeatable), e.g. nodejs and npm to build front-end bundles")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" && *tarFile == "" && *push == "" {
		return errors.New("say where the image goes: --out DIR, --tar FILE or --push REF")
	}
	if (*tfBin == "") != (*tfSum == "") {
		return errors.New("--terraform and --terraform-sha256 go together: a binary is used only when its checksum is pinned")
	}
	root, err := filepath.Abs(*src)
	if err != nil {
		return err
	}
	o := selfimage.Options{Source: root, Arch: *arch, Keyring: *keyring, Packages: pkgs, Log: env.Stderr}
	if *tfBin != "" {
		o.Terraform = selfimage.Terraform{Version: *tfVersion, Binary: *tfBin, SHA256: *tfSum}
	}
	switch *goRoot {
	case "none":
	case "":
		if *arch == runtime.GOARCH {
			o.GoRoot = runtime.GOROOT()
			if b, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output(); err == nil {
				o.GoRoot = strings.TrimSpace(string(b))
			}
		} else {
			return fmt.Errorf("--arch %s is not this machine's: give --go-root for %s, or none", *arch, *arch)
		}
	default:
		o.GoRoot = *goRoot
	}
	o.Cache = *cache
	if o.Cache == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			o.Cache = filepath.Join(dir, "gitops-runner", "build-self")
		}
	}
	o.Revision, o.Created, o.SourceURL = commitOf(ctx, root)
	start := time.Now()
	res, err := selfimage.Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "built %s in %s (%d Debian packages, terraform sha256 %s)\n", res.Digest, time.Since(start).Round(time.Millisecond),
		len(res.Packages), res.TerraformSHA256)
	if *out != "" {
		p, err := layout.Write(*out, empty.Index)
		if err != nil {
			return fmt.Errorf("write the OCI layout: %w", err)
		}
		if err := p.AppendImage(res.Image); err != nil {
			return fmt.Errorf("write the OCI layout: %w", err)
		}
		fmt.Fprintf(env.Stdout, "oci-layout %s %s\n", *out, res.Digest)
	}
	if *tarFile != "" {
		tag, err := name.NewTag("gitops-runner:" + cmpOr(shortRev(o.Revision), "latest"))
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarFile, tag, res.Image); err != nil {
			return fmt.Errorf("write the tarball: %w", err)
		}
		fmt.Fprintf(env.Stdout, "tarball %s %s (docker load -i %s: %s)\n", *tarFile, res.Digest, *tarFile, tag)
	}
	if *push != "" {
		ref, err := name.ParseReference(*push)
		if err != nil {
			return fmt.Errorf("--push %q: %w", *push, err)
		}
		if err := ggcrremote.Write(ref, res.Image, ggcrremote.WithContext(ctx), ggcrremote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		fmt.Fprintf(env.Stdout, "pushed %s@%s\n", ref.Context(), res.Digest)
	}
	return nil
}

// commitOf reads the checkout's commit and its time (the image's time), when src is a git work tree.
func commitOf(ctx context.Context, src string) (rev string, at time.Time, url string) {
	out, err := exec.CommandContext(ctx, "git", "-C", src, "log", "-1", "--format=%H %ct").Output()
	if err != nil {
		return "", time.Time{}, ""
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", time.Time{}, ""
	}
	secs, _ := strconv.ParseInt(f[1], 10, 64)
	if u, err := exec.CommandContext(ctx, "git", "-C", src, "remote", "get-url", "origin").Output(); err == nil {
		url = strings.TrimSpace(string(u))
		if strings.Contains(url, "@") || !strings.HasPrefix(url, "https://") {
			url = "" // a URL with credentials, or a local path, is not a label
		}
	}
	return f[0], time.Unix(secs, 0).UTC(), url
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
