package sandbox

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildLauncher builds cmd/runner-sandbox into a directory other users can traverse.
func buildLauncher(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/runner-sandbox; skipped with -short")
	}
	out := filepath.Join(openTemp(t), LauncherName)
	cmd := exec.Command("go", "build", "-o", out, "github.com/gitops-runner/runner/cmd/runner-sandbox")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/runner-sandbox: %v\n%s", err, b)
	}
	return out
}

// copyExe copies this test binary (a launcher: TestMain calls Main) to dir/name.
func copyExe(t *testing.T, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := copyFile(self, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindLauncher(t *testing.T) {
	stale := "echo 'runner-sandbox spec 0'"
	tests := []struct {
		name    string
		beside  string // "": nothing beside the runner; "launcher": a launcher; else a script's body
		want    string // the launcher asked for: "", "launcher", "relative" or a script's body
		get     string // "self", "beside" or "want"
		errText string
	}{
		{name: "nothing beside the runner: the runner itself", get: "self"},
		{name: "a launcher beside the runner is used", beside: "launcher", get: "beside"},
		{name: "a stale launcher beside the runner is passed over", beside: stale, get: "self"},
		{name: "something else beside the runner is passed over", beside: "exit 3", get: "self"},
		{name: "the launcher asked for", beside: stale, want: "launcher", get: "want"},
		{name: "a stale launcher asked for is refused", want: stale, errText: "install the runner-sandbox built with this runner"},
		{name: "a relative launcher is refused", want: "relative", errText: "absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			self := script(t, dir, "runner", "exit 0")
			beside := filepath.Join(dir, LauncherName)
			switch tt.beside {
			case "":
			case "launcher":
				copyExe(t, dir, LauncherName)
			default:
				script(t, dir, LauncherName, tt.beside)
			}
			want := ""
			switch tt.want {
			case "":
			case "launcher":
				want = copyExe(t, t.TempDir(), "my-launcher")
			case "relative":
				want = "bin/" + LauncherName
			default:
				want = script(t, t.TempDir(), "my-launcher", tt.want)
			}
			got, err := findLauncher(context.Background(), want, self, slog.New(slog.DiscardHandler))
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err %v, want one saying %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			expect := map[string]string{"self": self, "beside": beside, "want": want}[tt.get]
			if got != expect {
				t.Fatalf("launcher %s, want %s", got, expect)
			}
		})
	}
}

func TestLauncherRefusesAnotherSpecVersion(t *testing.T) {
	for _, v := range []string{`{"v":0,"mode":"none","program":"/bin/true"}`, `{"v":2,"mode":"none","program":"/bin/true"}`, `{"mode":"none","program":"/bin/true"}`} {
		if _, err := decodeSpec(v); err == nil || !strings.Contains(err.Error(), "spec version") {
			t.Errorf("%s: err %v, want a spec version error", v, err)
		}
	}
	sp, err := decodeSpec(spec{Mode: ModeNone, Program: "/bin/true"}.encode())
	if err != nil || sp.Version != specVersion {
		t.Fatalf("round trip: %+v, %v", sp, err)
	}
}

// BenchmarkLaunch measures one sandboxed start of /bin/true per mode, with the small launcher: what
// isolation adds to every Terraform command.
func BenchmarkLaunch(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("isolation needs root")
	}
	dir := b.TempDir()
	launcher := filepath.Join(dir, LauncherName)
	if out, err := exec.Command("go", "build", "-o", launcher, "github.com/gitops-runner/runner/cmd/runner-sandbox").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, want := range []string{WantOff, WantUser, WantNamespaces} {
		b.Run(want, func(b *testing.B) {
			data := b.TempDir()
			for p := data; p != "/tmp" && p != "/"; p = filepath.Dir(p) {
				_ = os.Chmod(p, 0o755)
			}
			sb, err := New(context.Background(), Config{Want: want, Dir: filepath.Join(data, "sandbox"), Launcher: launcher})
			if err != nil {
				b.Skipf("%s: %v", want, err)
			}
			work := filepath.Join(data, "work")
			if err := os.MkdirAll(work, 0o755); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				env, release, err := sb.Enter(context.Background(), Command{Program: "/bin/true", WorkTree: work})
				if err != nil {
					b.Fatal(err)
				}
				cmd := exec.Command(sb.Launcher())
				cmd.Dir = work
				for k, v := range env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				release()
			}
		})
	}
}
