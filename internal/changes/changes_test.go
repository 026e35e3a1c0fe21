package changes

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/repofs"
)

const fixture = "testdata/repo"

func loadFixture(t *testing.T) *config.Repo {
	t.Helper()
	cfg, err := config.LoadRepo(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAffected(t *testing.T) {
	cfg := loadFixture(t)
	tests := []struct {
		name    string
		changed []string
		envs    []string
		apps    []string
		reasons map[string][]string // checked only for the keys given
	}{
		{name: "environment file", changed: []string{"environments/dev/main.tf"}, envs: []string{"dev"},
			reasons: map[string][]string{"dev": {"environments/dev/main.tf → environments/dev"}}},
		{name: "a file the environment reads, in a subfolder", changed: []string{"environments/prod/files/policy.json"}, envs: []string{"prod"},
			reasons: map[string][]string{"prod": {"environments/prod/files/policy.json → file at environments/prod/main.tf:7 → environments/prod"}}},
		{name: "a file in a subfolder no one reads", changed: []string{"environments/prod/files/other.json"}},
		{name: "module called directly", changed: []string{"terraform/modules/platform/main.tf"}, envs: []string{"prod"},
			reasons: map[string][]string{"prod": {"terraform/modules/platform/main.tf → module platform → environments/prod"}}},
		{name: "module reached directly and through another module", changed: []string{"terraform/modules/network/main.tf"}, envs: []string{"dev", "prod"},
			reasons: map[string][]string{
				"dev":  {"terraform/modules/network/main.tf → module network → environments/dev"},
				"prod": {"terraform/modules/network/main.tf → module network → module platform → environments/prod"},
			}},
		{name: "template a module reads", changed: []string{"terraform/modules/network/templates/cidr.tpl"}, envs: []string{"dev", "prod"},
			reasons: map[string][]string{"dev": {"terraform/modules/network/templates/cidr.tpl → templatefile at terraform/modules/network/main.tf:2 → module network → environments/dev"}}},
		{name: "module no one uses", changed: []string{"terraform/modules/unused/main.tf"}},
		{name: "a module's README", changed: []string{"terraform/modules/network/README.md"}},
		{name: "module cycle terminates", changed: []string{"terraform/modules/cycle-b/main.tf"}, envs: []string{"staging"},
			reasons: map[string][]string{"staging": {"terraform/modules/cycle-b/main.tf → module b → module a → environments/staging"}}},
		{name: "repository config affects every environment", changed: []string{".runner.yaml"}, envs: []string{"dev", "staging", "prod"},
			reasons: map[string][]string{"prod": {".runner.yaml → every project"}}},
		{name: "app", changed: []string{"apps/backend/main.go"}, apps: []string{"backend"},
			reasons: map[string][]string{"backend": {"apps/backend/main.go changed"}}},
		{name: "both apps in config order", changed: []string{"apps/frontend/src/App.tsx", "apps/backend/go.mod"}, apps: []string{"backend", "frontend"}},
		{name: "prefixes are whole path segments", changed: []string{"environments/dev2/main.tf", "apps/backend-old/x", "terraform/modules/networking/main.tf", "environments/devx"}},
		{name: "unrelated files", changed: []string{"README.md", "docs/x.md"}},
		{name: "nothing changed", changed: nil},
		{name: "paths are cleaned and deduplicated", changed: []string{"./environments/dev/main.tf", "environments/dev/../dev/main.tf", "/environments/dev/main.tf"}, envs: []string{"dev"},
			reasons: map[string][]string{"dev": {"environments/dev/main.tf → environments/dev"}}},
		{name: "paths outside the repository are ignored", changed: []string{"../environments/dev/main.tf"}},
		{name: "everything at once", changed: []string{"environments/staging/x.tf", "terraform/modules/network/main.tf", "apps/frontend/package.json", "environments/dev/main.tf"},
			envs: []string{"dev", "staging", "prod"}, apps: []string{"frontend"},
			reasons: map[string][]string{"dev": {"environments/dev/main.tf → environments/dev", "terraform/modules/network/main.tf → module network → environments/dev"}}},
	}
	// Each case runs without a cache, then twice with one shared by every case (the second time from it).
	cache := NewCache()
	for _, tt := range tests {
		for _, run := range []struct {
			name  string
			cache *Cache
		}{{"", nil}, {"/cache filled", cache}, {"/from the cache", cache}} {
			t.Run(tt.name+run.name, func(t *testing.T) {
				res, err := AffectedWith(repofs.Dir(fixture), cfg, tt.changed, Options{Cache: run.cache})
				if err != nil {
					t.Fatal(err)
				}
				checkAffected(t, res, tt.envs, tt.apps, tt.reasons)
			})
		}
	}
	if len(cache.modules) == 0 || len(cache.reads) == 0 {
		t.Errorf("the cache kept %d modules and %d read sets", len(cache.modules), len(cache.reads))
	}
}

func checkAffected(t *testing.T, res Result, envs, apps []string, reasons map[string][]string) {
	t.Helper()
	if !reflect.DeepEqual(res.Environments, envs) {
		t.Errorf("Environments = %q, want %q", res.Environments, envs)
	}
	if !reflect.DeepEqual(res.Apps, apps) {
		t.Errorf("Apps = %q, want %q", res.Apps, apps)
	}
	for k, want := range reasons {
		if got := res.Reasons[k]; !reflect.DeepEqual(got, want) {
			t.Errorf("Reasons[%s] = %q, want %q", k, got, want)
		}
	}
	for _, name := range append(append([]string(nil), res.Environments...), res.Apps...) {
		if len(res.Reasons[name]) == 0 {
			t.Errorf("%s affected without a reason", name)
		}
	}
	if len(res.Problems) > 0 {
		t.Errorf("problems: %v", res.Problems)
	}
}

func TestAffectedCapsReasons(t *testing.T) {
	cfg := loadFixture(t)
	var changed []string
	for i := 0; i < maxReasons+5; i++ {
		changed = append(changed, filepath.ToSlash(filepath.Join("environments/dev", strings.Repeat("f", i+1)+".tf")))
	}
	res, err := Affected(repofs.Dir(fixture), cfg, changed)
	if err != nil {
		t.Fatal(err)
	}
	reasons := res.Reasons["dev"]
	if len(reasons) != maxReasons+1 || reasons[len(reasons)-1] != "and 5 more" {
		t.Errorf("reasons = %d, last %q", len(reasons), reasons[len(reasons)-1])
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// repoOf parses a .runner.yaml for tests that build their tree by hand.
func repoOf(t *testing.T, yaml string) *config.Repo {
	t.Helper()
	cfg, err := config.ParseRepo([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const devProd = "environments:\n  - {name: dev, dir: environments/dev}\n  - {name: prod, dir: environments/prod}\n"

// Configurations that cannot be read are reported for their project, and the project still counts as
// affected by its own files; healthy projects are decided as usual.
func TestAffectedReportsBrokenConfigurations(t *testing.T) {
	cfg := repoOf(t, devProd)
	tests := []struct {
		name     string
		files    map[string]string
		changed  []string
		wantErr  []string
		wantEnvs []string
	}{
		{name: "environment dir missing",
			files:   map[string]string{"environments/prod/main.tf": ""},
			changed: []string{"environments/prod/main.tf"},
			wantErr: []string{"environments/dev: directory does not exist"}, wantEnvs: []string{"prod"}},
		{name: "environment without .tf files",
			files:   map[string]string{"environments/dev/README.md": "", "environments/prod/main.tf": ""},
			changed: []string{"environments/dev/x.tf"},
			wantErr: []string{"environments/dev: no Terraform files"}, wantEnvs: []string{"dev"}},
		{name: "called module missing",
			files: map[string]string{
				"environments/dev/main.tf":  `module "x" { source = "../../terraform/modules/gone" }`,
				"environments/prod/main.tf": "",
			},
			changed: []string{"environments/dev/main.tf", "environments/prod/main.tf"},
			wantErr: []string{"terraform/modules/gone: directory does not exist"}, wantEnvs: []string{"dev", "prod"}},
		{name: "syntax error in the root: its own files still count",
			files: map[string]string{
				"environments/dev/main.tf":  "resource \"x\" \"y\" {\n  a = = 1\n",
				"environments/prod/main.tf": "",
			},
			changed: []string{"environments/dev/main.tf", "environments/prod/main.tf"},
			wantErr: []string{"environments/dev/main.tf:2:"}, wantEnvs: []string{"dev", "prod"}},
		{name: "local source outside the repository",
			files: map[string]string{
				"environments/dev/main.tf":  `module "x" { source = "../../../elsewhere" }`,
				"environments/prod/main.tf": "",
			},
			changed: []string{"environments/dev/main.tf"},
			wantErr: []string{`environments/dev: module "x": source "../../../elsewhere" is outside the repository`}, wantEnvs: []string{"dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			res, err := Affected(repofs.Dir(root), cfg, tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(res.Problems["dev"], "\n")
			for _, w := range tt.wantErr {
				if !strings.Contains(got, w) {
					t.Errorf("problems of dev %q do not contain %q", got, w)
				}
			}
			if len(res.Problems["prod"]) > 0 {
				t.Errorf("healthy prod reported: %v", res.Problems["prod"])
			}
			if !reflect.DeepEqual(res.Environments, tt.wantEnvs) {
				t.Errorf("Environments = %q, want %q", res.Environments, tt.wantEnvs)
			}
		})
	}
}

// TestAffectedFollowsEveryLocalSourceSpelling: Terraform cleans local module paths (trailing and
// doubled slashes, "./" segments) and reads backslashes as slashes on every platform, so each of
// these calls reaches terraform/modules/x.
func TestAffectedFollowsEveryLocalSourceSpelling(t *testing.T) {
	cfg := repoOf(t, "environments:\n  - {name: dev, dir: environments/dev}\n")
	tests := []struct {
		name   string
		source string
	}{
		{"plain", "../../terraform/modules/x"},
		{"trailing slash", "../../terraform/modules/x/"},
		{"doubled slash", "../../terraform//modules/x"},
		{"dot segment", "./../../terraform/modules/./x"},
		{"backslashes", `..\\..\\terraform\\modules\\x`},
		{"dot backslash", `.\\..\\..\\terraform\\modules\\x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, map[string]string{
				"environments/dev/main.tf":      `module "x" { source = "` + tt.source + `" }`,
				"terraform/modules/x/main.tf":   "",
				"terraform/modules/x/README.md": "",
			})
			res, err := Affected(repofs.Dir(root), cfg, []string{"terraform/modules/x/main.tf", "terraform/modules/x/README.md"})
			if err != nil {
				t.Fatalf("Affected: %v", err)
			}
			if want := []string{"dev"}; !reflect.DeepEqual(res.Environments, want) {
				t.Errorf("Environments = %q, want %q", res.Environments, want)
			}
			if want := []string{"terraform/modules/x/main.tf → module x → environments/dev"}; !reflect.DeepEqual(res.Reasons["dev"], want) {
				t.Errorf("Reasons = %q, want %q", res.Reasons["dev"], want)
			}
			if want := []string{"terraform/modules/x/README.md"}; !reflect.DeepEqual(res.Ignored, want) {
				t.Errorf("Ignored = %q, want %q", res.Ignored, want)
			}
		})
	}
}

// The layouts of real repositories: projects decide exactly what a change plans.
func TestAffectedLayouts(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		files    map[string]string
		links    map[string]string // link -> target (relative, as os.Symlink takes it)
		changed  []string
		projects map[string][]string
		why      map[string]string // project -> its first reason
		check    func(t *testing.T, res Result)
	}{
		{name: "a root at . with others below it: a change below does not plan the root",
			yaml:     "environments:\n  - name: prod\n    projects:\n      - {name: top, dir: .}\n      - {name: net, dir: stacks/net}\n",
			files:    map[string]string{"main.tf": "", "README.md": "", "stacks/net/main.tf": "", "stacks/net/notes.txt": ""},
			changed:  []string{"stacks/net/main.tf", "README.md", "stacks/net/notes.txt"},
			projects: map[string][]string{"prod": {"net"}}},
		{name: "a change at the root plans only the root",
			yaml:     "environments:\n  - name: prod\n    projects:\n      - {name: top, dir: .}\n      - {name: net, dir: stacks/net}\n",
			files:    map[string]string{"main.tf": "", "stacks/net/main.tf": ""},
			changed:  []string{"main.tf"},
			projects: map[string][]string{"prod": {"top"}}},
		{name: "var files per environment",
			yaml: "environments:\n  - name: dev\n    projects: [{name: app-dev, dir: app, var_files: [dev.tfvars, ../common.tfvars]}]\n" +
				"  - name: prod\n    projects: [{name: app-prod, dir: app, workspace: prod, var_files: [prod.tfvars, ../common.tfvars]}]\n",
			files:    map[string]string{"app/main.tf": "", "app/dev.tfvars": "", "app/prod.tfvars": "", "common.tfvars": ""},
			changed:  []string{"app/prod.tfvars"},
			projects: map[string][]string{"prod": {"app-prod"}},
			why:      map[string]string{"app-prod": "app/prod.tfvars → var file → app"}},
		{name: "a var file shared by both",
			yaml: "environments:\n  - name: dev\n    projects: [{name: app-dev, dir: app, var_files: [dev.tfvars, ../common.tfvars]}]\n" +
				"  - name: prod\n    projects: [{name: app-prod, dir: app, workspace: prod, var_files: [prod.tfvars, ../common.tfvars]}]\n",
			files:    map[string]string{"app/main.tf": "", "app/dev.tfvars": "", "app/prod.tfvars": "", "common.tfvars": ""},
			changed:  []string{"common.tfvars"},
			projects: map[string][]string{"dev": {"app-dev"}, "prod": {"app-prod"}}},
		{name: "when_modified globs",
			yaml:     "environments:\n  - name: prod\n    projects: [{name: a, dir: a, when_modified: [\"../config/**/*.yaml\"]}, {name: b, dir: b}]\n",
			files:    map[string]string{"a/main.tf": "", "b/main.tf": "", "config/x/y.yaml": ""},
			changed:  []string{"config/x/y.yaml"},
			projects: map[string][]string{"prod": {"a"}},
			why:      map[string]string{"a": "config/x/y.yaml → when_modified config/**/*.yaml → a"}},
		{name: "a new root no project lists is reported",
			yaml:     "environments:\n  - name: prod\n    projects: [{name: a, dir: a}]\n",
			files:    map[string]string{"a/main.tf": `module "m" { source = "../modules/m" }`, "modules/m/main.tf": "", "b/main.tf": ""},
			changed:  []string{"b/main.tf", "modules/m/main.tf"},
			projects: map[string][]string{"prod": {"a"}},
			check: func(t *testing.T, res Result) {
				if !reflect.DeepEqual(res.Uncovered, []string{"b"}) {
					t.Errorf("Uncovered = %q, want [b]", res.Uncovered)
				}
			}},
		{name: "configurable ignore",
			yaml:     "ignore: [\"docs/**\"]\nenvironments:\n  - name: prod\n    projects: [{name: a, dir: a}]\n",
			files:    map[string]string{"a/main.tf": "", "a/README.md": ""},
			changed:  []string{"a/README.md", "docs/x.tf"},
			projects: map[string][]string{"prod": {"a"}},
			check: func(t *testing.T, res Result) {
				if !reflect.DeepEqual(res.Ignored, []string{"docs/x.tf"}) {
					t.Errorf("Ignored = %q", res.Ignored)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			for l, target := range tt.links {
				if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(l))); err != nil {
					t.Fatal(err)
				}
			}
			cfg := repoOf(t, tt.yaml)
			res, err := Affected(repofs.Dir(root), cfg, tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for k, v := range res.Projects {
				got[k] = v
			}
			want := tt.projects
			if want == nil {
				want = map[string][]string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Projects = %v, want %v", got, want)
			}
			for p, w := range tt.why {
				if len(res.Why[p]) == 0 || res.Why[p][0].String() != w {
					t.Errorf("Why[%s] = %v, want %q first", p, res.Why[p], w)
				}
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func ExampleReason_String() {
	r := Reason{File: "modules/net/main.tf", Chain: []string{"modules/net/main.tf", "module net", "environments/prod/us-east-1/network"}}
	fmt.Println(r)
	// Output: modules/net/main.tf → module net → environments/prod/us-east-1/network
}
