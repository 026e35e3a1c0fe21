package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRepoExampleFile(t *testing.T) {
	data, err := os.ReadFile("testdata/example.runner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRepo(data)
	if err != nil {
		t.Fatalf("example does not parse:\n%v", err)
	}
	prod, ok := r.Environment("prod")
	if !ok {
		t.Fatal("no prod environment")
	}
	wantProd := withProject(Environment{
		Name: "prod", Dir: "environments/prod", Order: 3, Branch: "main", RequireApproval: true,
		APIURL: "https://api.example.com", ArtifactsBucket: "example-prod-artifacts", SlackChannel: "#deploys-prod",
		Refresh: Refresh{MinHealthyPercentage: 100, InstanceWarmup: 120 * time.Second, SkipMatching: true,
			AutoRollback: true, InProgress: "wait", Timeout: 45 * time.Minute},
		Vars: map[string]string{"desired_count": "3"},
	})
	if !reflect.DeepEqual(prod, wantProd) {
		t.Errorf("prod =\n%+v\nwant\n%+v", prod, wantProd)
	}
	dev, _ := r.Environment("dev")
	if dev.Refresh.InstanceWarmup != time.Minute || dev.Refresh.MinHealthyPercentage != 90 || dev.Refresh.Timeout != 30*time.Minute {
		t.Errorf("dev refresh = %+v", dev.Refresh)
	}
	wantApps := []App{
		{Name: "backend", Path: "apps/backend", Kind: "image", Repository: "example/backend",
			Platforms: []string{"linux/amd64", "linux/arm64"}, BaseImage: AppDefaultBaseImage, CreateRepository: true, FailOnCritical: true,
			Migrate: &Migrate{Command: []string{"migrate"}, Output: "migration"}},
		{Name: "frontend", Path: "apps/frontend", Kind: "bundle"},
	}
	if !reflect.DeepEqual(r.Apps, wantApps) {
		t.Errorf("apps =\n%+v\nwant\n%+v", r.Apps, wantApps)
	}
	if r.Notify.Slack.Channel != "#deploys" || !r.Notify.GitHub.Comments || r.SlackChannelFor(prod) != "#deploys-prod" || r.SlackChannelFor(dev) != "#deploys" {
		t.Errorf("notify = %+v", r.Notify)
	}
}

func TestParseRepoAppliesDefaults(t *testing.T) {
	r, err := ParseRepo([]byte("environments:\n  - {name: b, dir: envs/b/}\n  - {name: a, dir: ./envs/a}\napps:\n  - {name: api, path: apps/api, kind: image}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Environment{
		withProject(Environment{Name: "b", Dir: "envs/b", Order: 1, Branch: "main", APIURL: "/api", Refresh: repoDefaultRefresh()}),
		withProject(Environment{Name: "a", Dir: "envs/a", Order: 2, Branch: "main", APIURL: "/api", Refresh: repoDefaultRefresh()}),
	}
	if !reflect.DeepEqual(r.Environments, want) {
		t.Errorf("environments =\n%+v\nwant\n%+v", r.Environments, want)
	}
	wantApp := App{Name: "api", Path: "apps/api", Kind: "image", Repository: "api", Platforms: []string{"linux/amd64"}, BaseImage: AppDefaultBaseImage}
	if !reflect.DeepEqual(r.Apps, []App{wantApp}) {
		t.Errorf("apps = %+v", r.Apps)
	}
	if r.Notify != repoDefaultNotify() {
		t.Errorf("notify = %+v", r.Notify)
	}
	if rf := r.Environments[0].Refresh; !rf.SkipMatching || !rf.AutoRollback || rf.InProgress != "wait" || rf.MinHealthyPercentage != 90 || rf.Timeout != 30*time.Minute {
		t.Errorf("refresh defaults = %+v", rf)
	}
}

func TestParseRepoEmptyFileIsValid(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "notify:\n  slack:\n    channel: C123\n"} {
		r, err := ParseRepo([]byte(in))
		if err != nil {
			t.Errorf("ParseRepo(%q): %v", in, err)
			continue
		}
		if len(r.Environments) != 0 || !r.Notify.GitHub.Statuses {
			t.Errorf("ParseRepo(%q) = %+v", in, r)
		}
	}
}

func TestParseRepoRejects(t *testing.T) {
	env := "environments:\n  - name: dev\n    dir: environments/dev\n"
	tests := []struct {
		name string
		in   string
		want []string // each must appear, in order, as a line of the error
	}{
		{"unknown top-level key", "environment:\n  - name: dev\n", []string{`line 1: unknown key "environment"`}},
		{"unknown nested key", env + "    refresh:\n      min_healty: 50\n", []string{`line 5: unknown key "min_healty"`}},
		{"unknown key under notify", "notify:\n  slack:\n    chanel: x\n", []string{`line 3: unknown key "chanel"`}},
		{"environments not a list", "environments:\n  name: dev\n", []string{"line 2: cannot unmarshal !!map into a list"}},
		{"app not a mapping", "apps:\n  - web\n", []string{"line 2: cannot unmarshal !!str `web` into a mapping"}},
		{"wrong type", env + "    order: first\n", []string{"line 4: cannot unmarshal !!str `first` into int"}},
		{"syntax error", "environments: [\n", []string{"line 1: did not find expected node content"}},
		{"not a mapping", "- a\n", []string{"line 1: top level must be a mapping"}},
		{"two documents", env + "---\nenvironments: []\n", []string{"more than one YAML document"}},
		{"duplicate environment", env + "  - name: dev\n    dir: environments/dev2\n", []string{`line 4: environment "dev" is already defined on line 2`}},
		{"dir missing", "environments:\n  - name: dev\n", []string{"line 2: environment dev: dir, roots or projects is required"}},
		{"name missing", "environments:\n  - dir: x\n", []string{"line 2: environments[0]: name is required"}},
		{"bad name", "environments:\n  - name: Dev Env\n    dir: x\n", []string{`line 2: environment name "Dev Env"`}},
		{"dir outside repo", "environments:\n  - name: dev\n    dir: ../other\n", []string{`line 3: environment dev: dir: "../other" is outside the repository`}},
		{"absolute dir", "environments:\n  - name: dev\n    dir: /etc\n", []string{`line 3: environment dev: dir: "/etc" must be relative`}},
		{"empty environments", "environments: []\n", []string{"line 1: environments: empty list"}},
		{"bad duration", env + "    refresh:\n      instance_warmup: 60\n", []string{`line 5: environment dev: refresh.instance_warmup: "60" is not a duration`}},
		{"negative duration", env + "    refresh:\n      timeout: -1m\n", []string{`line 5: environment dev: refresh.timeout: "-1m" must not be negative`}},
		{"zero timeout", env + "    refresh:\n      timeout: 0s\n", []string{"line 5: environment dev: refresh.timeout: must be more than 0"}},
		{"percentage out of range", env + "    refresh:\n      min_healthy_percentage: 101\n", []string{"line 5: environment dev: refresh.min_healthy_percentage must be 0..100"}},
		{"in_progress value", env + "    refresh:\n      in_progress: kill\n", []string{`line 5: environment dev: refresh.in_progress must be "wait" or "cancel"`}},
		{"bad branch", env + "    branch: feat..x\n", []string{`line 4: environment dev: branch "feat..x"`}},
		{"bad api_url", env + "    api_url: ftp://x\n", []string{`line 4: environment dev: api_url "ftp://x"`}},
		{"bad bucket", env + "    artifacts_bucket: My_Bucket\n", []string{`line 4: environment dev: artifacts_bucket "My_Bucket"`}},
		{"runner var", env + "    vars:\n      backend_image: x\n", []string{`line 5: environment dev: vars: "backend_image" is set by the runner`}},
		{"bad var name", env + "    vars:\n      \"1x\": y\n", []string{`line 5: environment dev: vars: "1x" is not a valid Terraform variable name`}},
		{"negative order", env + "    order: -1\n", []string{"line 4: environment dev: order must not be negative"}},
		{"bad kind", "apps:\n  - name: web\n    path: apps/web\n    kind: zip\n", []string{`line 4: app web: kind must be "image" or "bundle", not "zip"`}},
		{"kind missing", "apps:\n  - name: web\n    path: apps/web\n", []string{`line 2: app web: kind is required`}},
		{"app path missing", "apps:\n  - name: web\n    kind: bundle\n", []string{`line 2: app web: path is required`}},
		{"duplicate app", "apps:\n  - {name: web, path: a, kind: bundle}\n  - {name: web, path: b, kind: bundle}\n", []string{`line 3: app "web" is already defined on line 2`}},
		{"image option on bundle", "apps:\n  - repository: x\n    name: web\n    path: a\n    kind: bundle\n", []string{`line 2: app web: repository applies only to kind "image"`}},
		{"bad platform", "apps:\n  - {name: api, path: a, kind: image, platforms: [amd64]}\n", []string{`line 2: app api: platform "amd64" is not os/arch[/variant]`}},
		{"migrate without command", "apps:\n  - name: api\n    path: a\n    kind: image\n    migrate: {output: db}\n", []string{`line 5: app api: migrate.command is required`}},
		{"migrate empty argument", "apps:\n  - name: api\n    path: a\n    kind: image\n    migrate:\n      command: [migrate, \"\"]\n", []string{`line 6: app api: migrate.command[1] must be 1-1024 characters`}},
		{"migrate bad output", "apps:\n  - name: api\n    path: a\n    kind: image\n    migrate:\n      command: [migrate]\n      output: \"a b\"\n", []string{`line 7: app api: migrate.output "a b" is not a Terraform output name`}},
		{"migrate on bundle", "apps:\n  - name: web\n    path: a\n    kind: bundle\n    migrate: {command: [x]}\n", []string{`line 5: app web: migrate applies only to kind "image"`}},
		{"bad repository", "apps:\n  - {name: api, path: a, kind: image, repository: Bad/Repo}\n", []string{`line 2: app api: repository "Bad/Repo"`}},
		{"bad slack channel", "notify:\n  slack:\n    channel: \"a b\"\n", []string{`line 3: slack channel "a b"`}},
		{"every problem is listed", "environments:\n  - name: dev\n    dir: /x\n    refresh:\n      in_progress: no\n  - name: dev\napps:\n  - {name: w, path: p, kind: tar}\n",
			[]string{"line 3: environment dev: dir", "line 5: environment dev: refresh.in_progress", "line 6: environment dev: dir, roots or projects is required", `line 6: environment "dev" is already defined`, "line 8: app w: kind must be"}},
		{"unknown keys and type errors together", "environments:\n  - name: dev\n    dri: x\n    order: x\nfoo: 1\n",
			[]string{`line 3: unknown key "dri"`, "line 4: cannot unmarshal", `line 5: unknown key "foo"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRepo([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseRepo succeeded: %+v", r)
			}
			var re RepoErrors
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not RepoErrors: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			i := 0
			for _, w := range tt.want {
				for i < len(lines) && !strings.Contains(lines[i], w) {
					i++
				}
				if i == len(lines) {
					t.Fatalf("error does not contain %q (in order):\n%v", w, err)
				}
				i++
			}
			if strings.Contains(err.Error(), "config.raw") || strings.Contains(err.Error(), "struct {") {
				t.Errorf("error leaks Go type names:\n%v", err)
			}
		})
	}
}

// A problem inside one environment must not add problems that are not there.
func TestParseRepoReportsOnlyRealProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error
	}{
		{"duplicate key in an environment", "environments:\n  - name: dev\n    dir: x\n    dir: y\n",
			`line 4: mapping key "dir" already defined at line 3`},
		{"duplicate key in an app", "apps:\n  - name: web\n    name: api\n    path: a\n    kind: bundle\n",
			`line 3: mapping key "name" already defined at line 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRepo([]byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParseRepo error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// repoWriteTree creates files (content "" makes a directory) under a new temp dir.
func repoWriteTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadRepo(t *testing.T) {
	base := map[string]string{
		"environments/dev/main.tf":     "",
		"environments/prod/main.tf":    "",
		"environments/.hidden/main.tf": "",
		"environments/README.md":       "",
		"apps/backend/main.go":         "",
		"apps/frontend/package.json":   "",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name      string
		files     map[string]string
		wantEnvs  []string // names in Ordered() order
		wantApps  []string
		wantError string // substring; "FILE" stands for the config path
	}{
		{name: "no file uses defaults", files: base, wantEnvs: []string{"dev", "prod"}, wantApps: []string{"backend", "frontend"}},
		{name: "file with environments", files: with(map[string]string{".runner.yaml": "environments:\n  - {name: prod, dir: environments/prod, order: 2}\n  - {name: dev, dir: environments/dev, order: 1}\napps: []\n"}),
			wantEnvs: []string{"dev", "prod"}},
		{name: "file without environments discovers them", files: with(map[string]string{".runner.yaml": "notify:\n  slack:\n    channel: \"#x\"\n"}),
			wantEnvs: []string{"dev", "prod"}, wantApps: []string{"backend", "frontend"}},
		{name: "missing environment dir", files: with(map[string]string{".runner.yaml": "environments:\n  - name: dev\n    dir: environments/dev\n  - name: qa\n    dir: environments/qa\n"}),
			wantError: "FILE:5: environment qa: environments/qa does not exist"},
		{name: "missing app dir", files: with(map[string]string{".runner.yaml": "apps:\n  - name: web\n    path: apps/web\n    kind: bundle\n"}),
			wantError: "FILE:3: app web: apps/web does not exist"},
		{name: "dir is a file", files: with(map[string]string{".runner.yaml": "environments:\n  - {name: dev, dir: environments/README.md}\n"}),
			wantError: "FILE:2: environment dev: environments/README.md is not a directory"},
		{name: "parse errors carry the file", files: with(map[string]string{".runner.yaml": "bogus: 1\n"}),
			wantError: `FILE:1: unknown key "bogus"`},
		{name: "no environments at all", files: map[string]string{"README.md": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := repoWriteTree(t, tt.files)
			r, err := LoadRepo(dir)
			if tt.wantError != "" {
				want := strings.ReplaceAll(tt.wantError, "FILE", filepath.Join(dir, RepoFile))
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("LoadRepo error = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var envs, apps []string
			for _, e := range r.Ordered() {
				envs = append(envs, e.Name)
			}
			for _, a := range r.Apps {
				apps = append(apps, a.Name)
			}
			if !reflect.DeepEqual(envs, tt.wantEnvs) || !reflect.DeepEqual(apps, tt.wantApps) {
				t.Errorf("envs %v apps %v, want %v %v", envs, apps, tt.wantEnvs, tt.wantApps)
			}
		})
	}
}

func TestDefaultRepo(t *testing.T) {
	dir := repoWriteTree(t, map[string]string{"environments/staging/": "", "environments/dev/": "", "environments/prod/": "", "apps/backend/": ""})
	r, err := DefaultRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Environment{
		withProject(Environment{Name: "dev", Dir: "environments/dev", Order: 1, Branch: "main", APIURL: "/api", Refresh: repoDefaultRefresh()}),
		withProject(Environment{Name: "prod", Dir: "environments/prod", Order: 2, Branch: "main", APIURL: "/api", Refresh: repoDefaultRefresh()}),
		withProject(Environment{Name: "staging", Dir: "environments/staging", Order: 3, Branch: "main", APIURL: "/api", Refresh: repoDefaultRefresh()}),
	}
	if !reflect.DeepEqual(r.Environments, want) {
		t.Errorf("environments = %+v", r.Environments)
	}
	wantApps := []App{{Name: "backend", Path: "apps/backend", Kind: "image", Repository: "backend", Platforms: []string{"linux/amd64"}, BaseImage: AppDefaultBaseImage}}
	if !reflect.DeepEqual(r.Apps, wantApps) {
		t.Errorf("apps = %+v", r.Apps)
	}
	if !r.Notify.GitHub.Comments || !r.Notify.GitHub.Statuses || !r.Notify.GitHub.Deployments {
		t.Errorf("notify = %+v", r.Notify)
	}
}

func TestLoadRepoRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("environments: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("config symlink", func(t *testing.T) {
		dir := repoWriteTree(t, map[string]string{"environments/dev/": ""})
		if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, RepoFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRepo(dir); err == nil || !strings.Contains(err.Error(), "must be a regular file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("environment dir symlink", func(t *testing.T) {
		dir := repoWriteTree(t, map[string]string{"environments/": "", RepoFile: "environments:\n  - {name: dev, dir: environments/dev}\n"})
		if err := os.Symlink(outside, filepath.Join(dir, "environments", "dev")); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRepo(dir); err == nil || !strings.Contains(err.Error(), "leads outside the repository") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("oversized config", func(t *testing.T) {
		dir := repoWriteTree(t, map[string]string{RepoFile: "#" + strings.Repeat("x", RepoMaxFileSize) + "\n"})
		if _, err := LoadRepo(dir); err == nil || !strings.Contains(err.Error(), "more than the") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestValidateRepoDir(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // one substring per error, in order; "DIR" is the repository
	}{
		{name: "valid", files: map[string]string{"environments/dev/main.tf": "resource \"terraform_data\" \"x\" {}\n"}},
		{name: "no tf files", files: map[string]string{
			RepoFile:                  "environments:\n  - name: dev\n    dir: environments/dev\n",
			"environments/dev/README": "",
		}, want: []string{"DIR/.runner.yaml:3: environment dev: environments/dev has no .tf files"}},
		{name: "hcl syntax error", files: map[string]string{"environments/dev/main.tf": "resource \"x\" \"y\" {\n  a = \n}\n"},
			want: []string{"DIR/environments/dev/main.tf:2: "}},
		{name: "config errors one per line", files: map[string]string{RepoFile: "environments:\n  - name: dev\nfoo: 1\n"},
			want: []string{"DIR/.runner.yaml:2: environment dev: dir, roots or projects is required", `DIR/.runner.yaml:3: unknown key "foo"`}},
		{name: "nothing to deploy", files: map[string]string{"README.md": ""}, want: []string{"DIR: no environments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := repoWriteTree(t, tt.files)
			errs := ValidateRepoDir(dir)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.want))
			}
			for i, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestOrdered(t *testing.T) {
	r := &Repo{Environments: []Environment{{Name: "prod", Order: 3}, {Name: "qa", Order: 2}, {Name: "dev", Order: 1}, {Name: "alpha", Order: 2}}}
	var got []string
	for _, e := range r.Ordered() {
		got = append(got, e.Name)
	}
	if want := []string{"dev", "alpha", "qa", "prod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Ordered = %v, want %v", got, want)
	}
	if r.Environments[0].Name != "prod" {
		t.Error("Ordered changed the receiver")
	}
	if _, ok := r.Environment("qa"); !ok {
		t.Error("Environment(qa) not found")
	}
	if _, ok := r.Environment("nope"); ok {
		t.Error("Environment(nope) found")
	}
}

// withProject completes an environment given by dir the way parsing does: one project named after it.
func withProject(e Environment) Environment {
	e.Workflow = DefaultWorkflow
	e.Projects = []Project{{Name: e.Name, Env: e.Name, Dir: e.Dir, Workspace: DefaultWorkspace, Workflow: DefaultWorkflow, Vars: e.Vars}}
	return e
}
