package tf

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeTerraform is a stand-in executable for behaviour that does not need real Terraform: which
// arguments and environment each command gets, and how a command that ignores or honours the interrupt
// is stopped. It records "args" and "env" lines per invocation into $FAKE_TF_RECORD, when set (BinaryVersion
// runs it with an environment of its own).
const fakeTerraform = `#!/bin/bash
if [ -n "$FAKE_TF_RECORD" ]; then
{ echo "args $*"; env | sort | sed 's/^/env /'; echo "env FAKE_TF_UID=$(id -u)"; echo end; } >> "$FAKE_TF_RECORD"
echo $$ >> "$FAKE_TF_RECORD.pids"
fi
case "$1" in
version) echo '{"terraform_version":"1.5.7","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}'; exit 0 ;;
show)    echo '{"format_version":"1.2"}'; exit 0 ;;
output)  echo '{"name":{"sensitive":false,"type":"string","value":"x"},"n":{"sensitive":false,"type":"number","value":3},"secret":{"sensitive":true,"type":"string","value":"hunter2"}}'; exit 0 ;;
esac
case "$FAKE_TF_MODE" in
apply-progress) for r in a b c d; do echo "null_resource.$r: Creating..."; echo "null_resource.$r: Creation complete after 0s [id=$r]"; done
	echo "null_resource.b: Destruction complete after 0s"; echo "Apply complete! Resources: 4 added, 0 changed, 0 destroyed."; exit 0 ;;
ignore-interrupt) trap '' INT ;;
honour-interrupt) trap 'echo "got interrupt"; kill $child; exit 1' INT ;;
*) printf 'line one\npartial'; echo ' line two' >&2; echo ' finished'; exit 0 ;;
esac
echo started
sleep 60 </dev/null >/dev/null 2>&1 &
child=$!
wait $child
`

type fake struct {
	dir, bin, record string
}

func newFake(t *testing.T) *fake {
	t.Helper()
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("the fake terraform is a bash script")
	}
	dir := t.TempDir()
	f := &fake{dir: dir, bin: filepath.Join(dir, "terraform"), record: filepath.Join(dir, "record")}
	if err := os.WriteFile(f.bin, []byte(fakeTerraform), 0o755); err != nil {
		t.Fatal(err)
	}
	// The fake's process groups are ours to clean up: a killed fake leaves its sleep behind.
	t.Cleanup(func() {
		b, _ := os.ReadFile(f.record + ".pids")
		for _, p := range strings.Fields(string(b)) {
			// A fake run in a PID namespace records itself as PID 1: kill(-1) would kill everything.
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	return f
}

// invocations returns the recorded commands: args line and environment of each.
func (f *fake) invocations(t *testing.T) []invocation {
	t.Helper()
	b, err := os.ReadFile(f.record)
	if err != nil {
		t.Fatal(err)
	}
	var out []invocation
	cur := invocation{env: map[string]string{}}
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "args "):
			cur.args = strings.Fields(strings.TrimPrefix(line, "args "))
		case strings.HasPrefix(line, "env "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "env "), "=")
			cur.env[k] = v
		case line == "end":
			out = append(out, cur)
			cur = invocation{env: map[string]string{}}
		}
	}
	return out
}

type invocation struct {
	args []string
	env  map[string]string
}

func (f *fake) workspace(t *testing.T, envName, mode string, mod func(*Options)) (*Workspace, *syncBuffer) {
	t.Helper()
	dir := filepath.Join(f.dir, envName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	opts := Options{
		Bin:            f.bin,
		Dir:            dir,
		PluginCacheDir: filepath.Join(f.dir, "cache", "nested"),
		Env:            map[string]string{"FAKE_TF_RECORD": f.record, "FAKE_TF_MODE": mode},
		Log:            log,
	}
	if mod != nil {
		mod(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, log
}

func TestEveryCommandRunsNonInteractivelyWithTheSharedCache(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "must-not-reach-terraform")
	t.Setenv("AWS_REGION", "eu-west-1")
	f := newFake(t)
	w, _ := f.workspace(t, "prod", "", nil)
	for _, name := range []string{"backend.hcl", "prod.backend.hcl", "staging.backend.hcl"} {
		if err := os.WriteFile(filepath.Join(f.dir, "prod", name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := w.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Plan(ctx, "out.tfplan", map[string]string{"z": "last", "a": "first=x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Show(ctx, "out.tfplan"); err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(ctx, "out.tfplan"); err != nil {
		t.Fatal(err)
	}
	outs, err := w.Outputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"name": "x", "n": "3"}; !maps.Equal(outs, want) {
		t.Errorf("outputs = %v, want %v", outs, want)
	}

	cache := filepath.Join(f.dir, "cache", "nested")
	if fi, err := os.Stat(cache); err != nil || !fi.IsDir() {
		t.Errorf("plugin cache dir not created: %v", err)
	}
	byVerb := map[string]invocation{}
	for _, inv := range f.invocations(t) {
		if inv.env["TF_IN_AUTOMATION"] != "1" || inv.env["CHECKPOINT_DISABLE"] != "1" {
			t.Errorf("%v: TF_IN_AUTOMATION=%q CHECKPOINT_DISABLE=%q", inv.args, inv.env["TF_IN_AUTOMATION"], inv.env["CHECKPOINT_DISABLE"])
		}
		if inv.env["TF_PLUGIN_CACHE_DIR"] != cache {
			t.Errorf("%v: TF_PLUGIN_CACHE_DIR=%q, want %q", inv.args, inv.env["TF_PLUGIN_CACHE_DIR"], cache)
		}
		if _, ok := inv.env["GITHUB_TOKEN"]; ok {
			t.Errorf("%v: the runner's GITHUB_TOKEN reached Terraform", inv.args)
		}
		if inv.env["AWS_REGION"] != "eu-west-1" {
			t.Errorf("%v: AWS_REGION not inherited", inv.args)
		}
		byVerb[inv.args[0]] = inv
	}
	tests := []struct {
		verb string
		want []string // in this order, not necessarily adjacent
	}{
		{"init", []string{"-input=false", "-backend-config=backend.hcl", "-backend-config=prod.backend.hcl"}},
		{"plan", []string{"-input=false", "-lock-timeout=2m0s", "-out=out.tfplan", "-var", "a=first=x", "-var", "z=last"}},
		{"show", []string{"-json", "out.tfplan"}},
		{"apply", []string{"-input=false", "-lock-timeout=2m0s", "out.tfplan"}},
		{"output", []string{"-json"}},
	}
	for _, tt := range tests {
		args := byVerb[tt.verb].args
		if !inOrder(args, tt.want) {
			t.Errorf("%s args = %v, want %v in order", tt.verb, args, tt.want)
		}
		if slices.Contains(args, "-backend-config=staging.backend.hcl") {
			t.Errorf("another environment's backend config was passed: %v", args)
		}
	}
	if args := byVerb["apply"].args; args[len(args)-1] != "out.tfplan" || slices.Contains(args, "-var") {
		t.Errorf("apply must take exactly the saved plan: %v", args)
	}
}

func TestStageLogGetsWholeLines(t *testing.T) {
	f := newFake(t)
	w, log := f.workspace(t, "dev", "", nil)
	if err := w.Apply(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	// stdout: "line one\n" then "partial" + " finished\n"; stderr: " line two\n". Whatever order the two
	// streams arrive in, no line may contain part of another.
	for _, want := range []string{"line one\n", "partial finished\n", " line two\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks whole line %q:\n%s", want, got)
		}
	}
}

func TestStoppingACommand(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		grace      time.Duration
		timeout    time.Duration
		wantErr    error
		wantLog    string
		wantWithin time.Duration
	}{
		{
			name: "interrupt first: Terraform that exits on SIGINT is never killed",
			mode: "honour-interrupt", grace: time.Minute, wantErr: context.Canceled,
			wantLog: "got interrupt", wantWithin: 20 * time.Second,
		},
		{
			name: "kill after the grace period when the interrupt is ignored",
			mode: "ignore-interrupt", grace: 300 * time.Millisecond, wantErr: context.Canceled,
			wantWithin: 20 * time.Second,
		},
		{
			name: "per-command timeout interrupts and reports ErrTimeout",
			mode: "honour-interrupt", grace: time.Minute, timeout: time.Second, wantErr: ErrTimeout,
			wantLog: "got interrupt", wantWithin: 20 * time.Second,
		},
	}
	for _, tt := range tests {
		for _, front := range []bool{false, true} {
			name := tt.name
			if front {
				name += ", through the version front"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t)
				w, log := f.workspace(t, "dev", tt.mode, func(o *Options) {
					o.GracePeriod = tt.grace
					o.CommandTimeout = tt.timeout
					if front {
						o.Versions = NewVersions(filepath.Join(f.dir, "fronts"))
					}
				})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- w.Apply(ctx, "p") }()
				eventually(t, 10*time.Second, "the command to start", func() bool { return log.Contains("started") })
				stopped := time.Now()
				if tt.timeout == 0 {
					cancel()
				}
				select {
				case err := <-done:
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("error = %v, want %v", err, tt.wantErr)
					}
					if tt.wantErr == ErrTimeout && errors.Is(err, context.Canceled) && ctx.Err() != nil {
						t.Errorf("timeout reported as the caller's cancellation")
					}
				case <-time.After(tt.wantWithin):
					t.Fatalf("still running %s after being stopped", tt.wantWithin)
				}
				if tt.mode == "honour-interrupt" && time.Since(stopped) > tt.grace/2 {
					t.Errorf("took %s: killed, not interrupted", time.Since(stopped))
				}
				if tt.wantLog != "" && !log.Contains(tt.wantLog) {
					t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
				}
			})
		}
	}
}

func TestInitWaitsForThePluginCacheLock(t *testing.T) {
	f := newFake(t)
	w, log := f.workspace(t, "dev", "", nil)
	cache := filepath.Join(f.dir, "cache", "nested")
	unlock, err := lockCacheDir(context.Background(), cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Init(context.Background()) }()
	eventually(t, 10*time.Second, "init to wait for the lock", func() bool { return log.Contains("waiting for the plugin cache lock") })
	select {
	case err := <-done:
		t.Fatalf("init finished while another holder had the plugin cache lock: %v", err)
	default:
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("init did not proceed after the lock was released")
	}
}

func TestInitWaitingForTheLockCanBeCancelled(t *testing.T) {
	f := newFake(t)
	w, log := f.workspace(t, "dev", "", nil)
	unlock, err := lockCacheDir(context.Background(), filepath.Join(f.dir, "cache", "nested"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Init(ctx) }()
	eventually(t, 10*time.Second, "init to wait for the lock", func() bool { return log.Contains("waiting for the plugin cache lock") })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled init kept waiting for the lock")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no binary", func(o *Options) { o.Bin = "" }, "Options.Bin is empty"},
		{"no dir", func(o *Options) { o.Dir = "" }, "Options.Dir is empty"},
		{"missing dir", func(o *Options) { o.Dir = "/nonexistent/env" }, "/nonexistent/env"},
		{"managed variable", func(o *Options) { o.Env = map[string]string{"TF_LOG": "TRACE", "TF_VAR_x": "1"} }, "TF_LOG, TF_VAR_x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Bin: "/usr/bin/true", Dir: t.TempDir()}
			tt.mod(&opts)
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func inOrder(args, want []string) bool {
	i := 0
	for _, a := range args {
		if i < len(want) && a == want[i] {
			i++
		}
	}
	return i == len(want)
}

// What Terraform inherits from the runner's environment: what it needs to reach
// providers, registries, modules and AWS, and none of the runner's own secrets.
func TestTerraformEnvironment(t *testing.T) {
	environ := []string{
		"PATH=/bin", "HOME=/home/runner", "AWS_REGION=eu-west-1", "AWS_PROFILE=deploy", "TF_TOKEN_app_terraform_io=tok",
		"TF_VAR_owner=platform", "TF_CLI_CONFIG_FILE=/etc/terraformrc", "SSH_AUTH_SOCK=/run/agent.sock",
		"GIT_SSH_COMMAND=ssh -i /keys/deploy", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=true",
		"GITHUB_TOKEN=ghp_secret", "RUNNER_WEBHOOK_SECRET=whsec", "RUNNER_API_TOKEN=apitok", "SLACK_BOT_TOKEN=xoxb",
		"DATABASE_URL=postgres://u:p@db/runner", "NOEQUALS",
	}
	env := commandEnv(Options{PluginCacheDir: "/cache"}, environ)
	for _, k := range []string{"PATH", "HOME", "AWS_REGION", "AWS_PROFILE", "TF_TOKEN_app_terraform_io",
		"TF_CLI_CONFIG_FILE", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE"} {
		if _, ok := env[k]; !ok {
			t.Errorf("%s does not reach Terraform", k)
		}
	}
	// TF_VAR_ values would make terraform-exec refuse every command: they become -var inputs instead.
	for _, k := range []string{"GITHUB_TOKEN", "RUNNER_WEBHOOK_SECRET", "RUNNER_API_TOKEN", "SLACK_BOT_TOKEN", "DATABASE_URL", "NOEQUALS", "TF_VAR_owner"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q reaches Terraform", k, v)
		}
	}
	if env["TF_PLUGIN_CACHE_DIR"] != "/cache" || env["CHECKPOINT_DISABLE"] != "1" {
		t.Errorf("TF_PLUGIN_CACHE_DIR=%q CHECKPOINT_DISABLE=%q", env["TF_PLUGIN_CACHE_DIR"], env["CHECKPOINT_DISABLE"])
	}
}

func TestInheritedVars(t *testing.T) {
	got := InheritedVars([]string{"TF_VAR_owner=platform", "TF_VAR_=x", "TF_VAR_list=[\"a=b\"]", "PATH=/bin", "tf_var_low=1"})
	want := map[string]string{"owner": "platform", "list": `["a=b"]`}
	if len(got) != len(want) || got["owner"] != want["owner"] || got["list"] != want["list"] {
		t.Fatalf("InheritedVars = %v, want %v", got, want)
	}
}

// An explicit base environment replaces what would be inherited: nothing of the runner's passes.
func TestExplicitBaseEnvironment(t *testing.T) {
	environ := []string{"PATH=/bin", "AWS_SECRET_ACCESS_KEY=runner-own", "TF_TOKEN_x=tok", "HOME=/root"}
	env := commandEnv(Options{BaseEnv: map[string]string{"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "ASIASESSION"}}, environ)
	want := map[string]string{"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "ASIASESSION", "CHECKPOINT_DISABLE": "1"}
	if len(env) != len(want) {
		t.Fatalf("env = %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

// A TF_VAR_ in the runner's environment once made terraform-exec refuse every command ("manual
// setting of env var").
func TestRunnerTFVarDoesNotBreakCommands(t *testing.T) {
	t.Setenv("TF_VAR_owner", "platform")
	f := newFake(t)
	w, _ := f.workspace(t, "dev", "", nil)
	if err := w.Init(context.Background()); err != nil {
		t.Fatalf("init with TF_VAR_owner in the runner's environment: %v", err)
	}
	for _, inv := range f.invocations(t) {
		if _, ok := inv.env["TF_VAR_owner"]; ok {
			t.Errorf("%v: TF_VAR_owner reached Terraform through the environment", inv.args)
		}
	}
}

func TestBinaryVersion(t *testing.T) {
	f := newFake(t)
	v, err := BinaryVersion(context.Background(), f.bin)
	if err != nil || v != "1.5.7" {
		t.Fatalf("BinaryVersion = %q, %v; want 1.5.7", v, err)
	}
	if _, err := BinaryVersion(context.Background(), "/bin/false"); err == nil {
		t.Fatal("a binary that fails gave a version")
	}
}
