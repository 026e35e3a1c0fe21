package tf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingTerraform is a terraform that appends its arguments to a file (calls) and answers `version`
// itself, as version v; every other command runs the fake. Its directory's name needs quoting in sh.
type countingTerraform struct {
	bin, calls, fake string
}

func newCountingTerraform(t *testing.T, f *fake) *countingTerraform {
	t.Helper()
	dir := filepath.Join(t.TempDir(), `it's "here" $HOME`)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &countingTerraform{bin: filepath.Join(dir, "terraform"), calls: filepath.Join(dir, "calls"), fake: f.bin}
}

// install (re)writes the binary as version v, with modification time mod.
func (c *countingTerraform) install(t *testing.T, v string, mod time.Time) {
	t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %s
if [ "$1" = version ]; then echo '{"terraform_version":"%s","provider_selections":{}}'; exit 0; fi
exec %s "$@"
`, shellQuote(c.calls), v, shellQuote(c.fake))
	if err := os.WriteFile(c.bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(c.bin, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// versionCalls counts the times the binary was asked its version, by anyone.
func (c *countingTerraform) versionCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(c.calls)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "version") {
			n++
		}
	}
	return n
}

// planAll plans in n new workspaces at once (init, plan, show -json, as the server's plan does) and
// returns the version each workspace's terraform-exec ended up with.
func planAll(t *testing.T, f *fake, bin, prefix string, n int, versions *Versions) []string {
	t.Helper()
	ctx := context.Background()
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		w, _ := f.workspace(t, fmt.Sprintf("%s-%d", prefix, i), "", func(o *Options) {
			o.Bin, o.Versions = bin, versions
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				if err := w.Init(ctx); err != nil {
					return err
				}
				if _, err := w.Plan(ctx, "out.tfplan", nil); err != nil {
					return err
				}
				if _, err := w.Show(ctx, "out.tfplan"); err != nil {
					return err
				}
				// Cached by now: terraform-exec answers without running anything.
				v, _, err := w.tf.Version(ctx, false)
				if err != nil {
					return err
				}
				got[i] = v.String()
				return nil
			}()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("workspace %d: %v", i, err)
		}
	}
	return got
}

// A PR plan once ran `terraform version -json` before its init: terraform-exec asks once per
// tfexec.Terraform, and each Workspace has its own. With Versions the binary is asked once per process,
// and again only when it changes.
func TestVersionIsAskedOncePerBinary(t *testing.T) {
	const n = 4
	f := newFake(t)
	c := newCountingTerraform(t, f)
	mod := time.Now().Add(-time.Hour).Truncate(time.Second)
	c.install(t, "1.5.7", mod)
	versions := NewVersions(filepath.Join(t.TempDir(), "fronts"))

	steps := []struct {
		name      string
		change    func()
		want      string
		wantCalls int // in all, since the start
	}{
		{"first plans: asked once for all of them", func() {}, "1.5.7", 1},
		{"same binary: not asked again", func() {}, "1.5.7", 1},
		{"modification time changed: asked again", func() { c.install(t, "1.5.7", mod.Add(time.Minute)) }, "1.5.7", 2},
		{"replaced, same time, other size: asked again", func() { c.install(t, "1.10.0", mod.Add(time.Minute)) }, "1.10.0", 3},
	}
	for i, st := range steps {
		st.change()
		got := planAll(t, f, c.bin, fmt.Sprintf("shared-%d", i), n, versions)
		if calls := c.versionCalls(t); calls != st.wantCalls {
			t.Errorf("%s: %d version calls in all after %d plans, want %d", st.name, calls, (i+1)*n, st.wantCalls)
		}
		for _, v := range got {
			if v != st.want {
				t.Errorf("%s: terraform-exec has version %s, want %s", st.name, v, st.want)
			}
		}
	}
	for _, inv := range f.invocations(t) {
		if _, ok := inv.env[versionEnv]; ok {
			t.Errorf("%v: %s reached Terraform", inv.args, versionEnv)
		}
	}

	// Without Versions, as before: one per workspace.
	before := c.versionCalls(t)
	planAll(t, f, c.bin, "alone", n, nil)
	if calls := c.versionCalls(t) - before; calls != n {
		t.Errorf("without Versions: %d version calls for %d plans, want %d", calls, n, n)
	}
}

// Where the fronts cannot be written or run, terraform-exec asks the binary itself, as without Versions.
func TestNoFrontWhereItCannotRun(t *testing.T) {
	f := newFake(t)
	c := newCountingTerraform(t, f)
	c.install(t, "1.5.7", time.Now())
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := planAll(t, f, c.bin, "env", 2, NewVersions(filepath.Join(file, "fronts")))
	if got[0] != "1.5.7" || got[1] != "1.5.7" {
		t.Errorf("versions %v", got)
	}
	if calls := c.versionCalls(t); calls != 2 {
		t.Errorf("%d version calls for 2 plans, want 2 (one per workspace)", calls)
	}
}

func TestVersionsOf(t *testing.T) {
	f := newFake(t)
	c := newCountingTerraform(t, f)
	c.install(t, "1.5.7", time.Now())
	bad := filepath.Join(t.TempDir(), "terraform")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho '{\"terraform_version\":\"1.5.7\\\"}\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	v := NewVersions(t.TempDir())
	ctx := context.Background()
	tests := []struct {
		name, bin, want, wantErr string
	}{
		{name: "a terraform", bin: c.bin, want: "1.5.7"},
		{name: "a failing binary", bin: "/bin/false", wantErr: "exit status 1"},
		{name: "a version that is not one", bin: bad, wantErr: "unexpected version"},
		{name: "no binary", bin: filepath.Join(t.TempDir(), "missing"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // a failure is not kept: asked again, failing again
				got, err := v.Of(ctx, tt.bin)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Of(%s) = %q, %v; want an error with %q", tt.bin, got, err, tt.wantErr)
					}
					continue
				}
				if err != nil || got != tt.want {
					t.Fatalf("Of(%s) = %q, %v; want %q", tt.bin, got, err, tt.want)
				}
			}
		})
	}
	if calls := c.versionCalls(t); calls != 1 {
		t.Errorf("%d version calls, want 1", calls)
	}
}
