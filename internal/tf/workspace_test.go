package tf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWorkspaceLifecycle walks one environment through what a run does: plan on a fresh environment,
// apply the saved plan, read outputs, plan again (no changes), then plan a replacement, an in-place
// update, a destroy and a sensitive output change. Steps run in order; each depends on the last.
func TestWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	w, log := e.workspace(t, "app", nil)
	if err := w.Init(ctx); err != nil {
		t.Fatalf("init: %v\nlog:\n%s", err, log)
	}

	steps := []struct {
		name        string
		vars        map[string]string
		apply       bool
		wantChanges bool
		check       func(t *testing.T, s Summary)
	}{
		{
			name: "fresh environment plans only adds", wantChanges: true, apply: true,
			check: func(t *testing.T, s Summary) {
				want := Summary{Environment: "app", Add: 5}
				if s.Add != want.Add || s.Change != 0 || s.Destroy != 0 || s.Replace != 0 || s.NoChanges {
					t.Errorf("counts = %+v, want 5 adds only", s)
				}
				if got := outputNames(s); got != "api_token,app_url,message,release_id,worker_names" {
					t.Errorf("outputs = %s", got)
				}
			},
		},
		{
			name: "plan after apply has no changes",
			check: func(t *testing.T, s Summary) {
				if !s.NoChanges || len(s.Resources) != 0 || len(s.Outputs) != 0 {
					t.Errorf("summary = %+v, want no changes", s)
				}
				if !strings.Contains(s.Markdown(), "No changes. Infrastructure matches the configuration.") {
					t.Errorf("markdown:\n%s", s.Markdown())
				}
			},
		},
		{
			name: "changed triggers_replace plans a replacement", vars: map[string]string{"release": "r2"}, wantChanges: true,
			check: func(t *testing.T, s Summary) {
				if s.Replace != 1 || s.Add+s.Change+s.Destroy != 0 {
					t.Errorf("counts = %+v, want 1 replace", s)
				}
				if r := s.Resources[0]; r.Address != "terraform_data.release" || r.Action != ActionReplace || r.Reason == "" {
					t.Errorf("resource = %+v", r)
				}
				if !strings.Contains(s.Markdown(), "> [!WARNING]") {
					t.Errorf("no warning for a replacement:\n%s", s.Markdown())
				}
			},
		},
		{
			name: "fewer workers plans a destroy", vars: map[string]string{"workers": "1"}, wantChanges: true,
			check: func(t *testing.T, s Summary) {
				if s.Destroy != 1 || s.Resources[0].Address != "terraform_data.worker[1]" {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name: "changed sensitive value is never shown", vars: map[string]string{"api_token": "rotated-token-value"}, wantChanges: true,
			check: func(t *testing.T, s Summary) {
				if len(s.Outputs) != 1 || !s.Outputs[0].Sensitive || s.Outputs[0].Before != SensitiveValue || s.Outputs[0].After != SensitiveValue {
					t.Errorf("outputs = %+v", s.Outputs)
				}
				for _, text := range []string{s.Markdown(), s.Text()} {
					if strings.Contains(text, "token-value") {
						t.Errorf("sensitive value leaked:\n%s", text)
					}
				}
			},
		},
	}
	for i, step := range steps {
		ok := t.Run(step.name, func(t *testing.T) {
			planFile := filepath.Join(t.TempDir(), "plan.tfplan")
			changes, err := w.Plan(ctx, planFile, step.vars)
			if err != nil {
				t.Fatalf("plan: %v\nlog:\n%s", err, log)
			}
			if changes != step.wantChanges {
				t.Errorf("hasChanges = %v, want %v", changes, step.wantChanges)
			}
			p, err := w.Show(ctx, planFile)
			if err != nil {
				t.Fatalf("show: %v", err)
			}
			step.check(t, Summarize("app", p))
			text, err := w.ShowText(ctx, planFile)
			if err != nil {
				t.Fatalf("show text: %v", err)
			}
			if strings.Contains(text, "\x1b[") {
				t.Errorf("plan text has colour codes")
			}
			if step.wantChanges && !strings.Contains(text, "Plan:") {
				t.Errorf("plan text:\n%s", text)
			}
			if step.apply {
				if err := w.Apply(ctx, planFile); err != nil {
					t.Fatalf("apply: %v\nlog:\n%s", err, log)
				}
			}
		})
		if !ok {
			t.Fatalf("step %d failed; later steps depend on it", i)
		}
	}

	t.Run("outputs after apply omit sensitive values", func(t *testing.T) {
		got, err := w.Outputs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"app_url":      "https://app.app.example.com",
			"message":      "hello",
			"worker_names": `["worker-0","worker-1"]`,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("output %s = %q, want %q", k, got[k], v)
			}
		}
		if _, ok := got["api_token"]; ok {
			t.Errorf("sensitive output api_token returned")
		}
		if len(got["release_id"]) != 36 {
			t.Errorf("release_id = %q, want a UUID", got["release_id"])
		}
	})

	t.Run("stage log streamed every command", func(t *testing.T) {
		bin := filepath.Base(e.bin)
		for _, want := range []string{"$ " + bin + " init", "Terraform has been successfully initialized!",
			"$ " + bin + " plan", "Plan: 5 to add", "$ " + bin + " apply", "Apply complete! Resources: 5 added"} {
			if !log.Contains(want) {
				t.Errorf("log lacks %q", want)
			}
		}
		if strings.Contains(log.String(), `"format_version"`) {
			t.Errorf("show -json output leaked into the stage log")
		}
	})

	t.Run("backend config came from backend.hcl", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(e.root, "envs", "app", "state", "terraform.tfstate")); err != nil {
			t.Errorf("state not at the path backend.hcl sets: %v", err)
		}
	})
}

func outputNames(s Summary) string {
	var names []string
	for _, o := range s.Outputs {
		names = append(names, o.Name)
	}
	return strings.Join(names, ",")
}

// TestEnvironmentsSharingADirectory: two environments may share one configuration directory and
// differ by <environment>.backend.hcl. Each must init, plan and apply against its own backend, one
// after the other or at the same time in the same work tree, without reconfiguring the other's.
func TestEnvironmentsSharingADirectory(t *testing.T) {
	t.Parallel()
	for _, parallel := range []bool{false, true} {
		name := map[bool]string{false: "one after the other", true: "at the same time"}[parallel]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			dir := filepath.Join(e.root, "envs", "shared")
			files := map[string]string{
				"main.tf": "terraform {\n  backend \"local\" {}\n}\n\nvariable \"env\" {\n  type = string\n}\n\n" +
					"resource \"terraform_data\" \"env\" {\n  input = var.env\n}\n",
				"dev.backend.hcl":  "path = \"dev.tfstate\"\n",
				"prod.backend.hcl": "path = \"prod.tfstate\"\n",
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for n, c := range files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			deploy := func(env string) error {
				w, log := e.workspace(t, "shared", func(o *Options) { o.Environment = env })
				ctx := context.Background()
				if err := w.Init(ctx); err != nil {
					return fmt.Errorf("init %s: %w\n%s", env, err, log)
				}
				planFile := filepath.Join(t.TempDir(), env+".tfplan")
				if _, err := w.Plan(ctx, planFile, map[string]string{"env": env}); err != nil {
					return fmt.Errorf("plan %s: %w\n%s", env, err, log)
				}
				if err := w.Apply(ctx, planFile); err != nil {
					return fmt.Errorf("apply %s: %w\n%s", env, err, log)
				}
				// Planned again, the environment finds its own state: nothing to do.
				changes, err := w.Plan(ctx, filepath.Join(t.TempDir(), env+".tfplan"), map[string]string{"env": env})
				if err != nil {
					return fmt.Errorf("second plan %s: %w\n%s", env, err, log)
				}
				if changes {
					return fmt.Errorf("second plan %s has changes: it read another environment's state\n%s", env, log)
				}
				return nil
			}
			envs := []string{"dev", "prod"}
			errs := make([]error, len(envs))
			var wg sync.WaitGroup
			for i, env := range envs {
				if parallel {
					wg.Go(func() { errs[i] = deploy(env) })
				} else {
					errs[i] = deploy(env)
				}
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			for _, env := range envs {
				state, err := os.ReadFile(filepath.Join(dir, env+".tfstate"))
				if err != nil || !strings.Contains(string(state), `"value": "`+env+`"`) {
					t.Errorf("%s.tfstate lacks the %s resource (%v):\n%s", env, env, err, state)
				}
			}
		})
	}
}

// Projects of one folder in different workspaces, each with its var files and backend config: each
// selects (or creates) its workspace, reads its var files and keeps its own state.
func TestProjectsWorkspacesVarFilesBackendConfig(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	dir := filepath.Join(e.root, "envs", "app")
	files := map[string]string{
		"main.tf": "terraform {\n  backend \"local\" {}\n}\n\nvariable \"size\" {\n  type = number\n}\n\n" +
			"resource \"terraform_data\" \"app\" {\n  input = \"${terraform.workspace}-${var.size}\"\n}\n",
		"common.tfvars": "size = 1\n",
		"ops.tfvars":    "size = 7\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		name, ws string
		varFiles []string
		want     string
	}{
		{"app", "", []string{"common.tfvars"}, "default-1"},
		{"app-ops", "ops", []string{"common.tfvars", "ops.tfvars"}, "ops-7"},
	} {
		w, log := e.workspace(t, "app", func(o *Options) {
			o.Environment, o.Workspace, o.VarFiles = p.name, p.ws, p.varFiles
			o.BackendConfig = []string{"path=" + p.name + ".tfstate"}
		})
		ctx := context.Background()
		if err := w.Init(ctx); err != nil {
			t.Fatalf("init %s: %v\n%s", p.name, err, log)
		}
		planFile := filepath.Join(t.TempDir(), "p.tfplan")
		if _, err := w.Plan(ctx, planFile, nil); err != nil {
			t.Fatalf("plan %s: %v\n%s", p.name, err, log)
		}
		plan, err := w.Show(ctx, planFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(plan.ResourceChanges[0].Change.After.(map[string]any)["input"]); got != p.want {
			t.Errorf("%s planned input %q, want %q\n%s", p.name, got, p.want, log)
		}
		if err := w.Apply(ctx, planFile); err != nil {
			t.Fatalf("apply %s: %v\n%s", p.name, err, log)
		}
		// A new workspace object (a later run) selects the same workspace and finds its state.
		again, log2 := e.workspace(t, "app", func(o *Options) {
			o.Environment, o.Workspace, o.VarFiles = p.name, p.ws, p.varFiles
			o.BackendConfig = []string{"path=" + p.name + ".tfstate"}
		})
		if err := again.Init(ctx); err != nil {
			t.Fatalf("second init %s: %v\n%s", p.name, err, log2)
		}
		if changes, err := again.Plan(ctx, filepath.Join(t.TempDir(), "p.tfplan"), nil); err != nil || changes {
			t.Errorf("second plan of %s: changes %v, err %v\n%s", p.name, changes, err, log2)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "app.tfstate")); err != nil {
		t.Errorf("the default workspace's state is not where backend_config put it: %v", err)
	}
	if _, err := New(Options{Bin: "/bin/true", Dir: dir, Workspace: "../evil"}); err == nil {
		t.Error("a workspace name with a slash was accepted")
	}
}
