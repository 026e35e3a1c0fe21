package changes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
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
			reasons: map[string][]string{"dev": {"environments/dev/main.tf changed"}}},
		{name: "new file in a subdirectory of an environment", changed: []string{"environments/prod/files/policy.json"}, envs: []string{"prod"}},
		{name: "module called directly", changed: []string{"terraform/modules/platform/main.tf"}, envs: []string{"prod"},
			reasons: map[string][]string{"prod": {"module terraform/modules/platform changed"}}},
		{name: "module reached directly and through another module", changed: []string{"terraform/modules/network/main.tf"}, envs: []string{"dev", "prod"},
			reasons: map[string][]string{
				"dev":  {"module terraform/modules/network changed"},
				"prod": {"module terraform/modules/network changed (via terraform/modules/platform)"},
			}},
		{name: "module template in a subdirectory", changed: []string{"terraform/modules/network/templates/cidr.tpl"}, envs: []string{"dev", "prod"}},
		{name: "module no one uses", changed: []string{"terraform/modules/unused/main.tf"}},
		{name: "module cycle terminates", changed: []string{"terraform/modules/cycle-b/main.tf"}, envs: []string{"staging"},
			reasons: map[string][]string{"staging": {"module terraform/modules/cycle-b changed (via terraform/modules/cycle-a)"}}},
		{name: "repository config affects every environment", changed: []string{".runner.yaml"}, envs: []string{"dev", "staging", "prod"},
			reasons: map[string][]string{"prod": {".runner.yaml changed"}}},
		{name: "app", changed: []string{"apps/backend/main.go"}, apps: []string{"backend"},
			reasons: map[string][]string{"backend": {"apps/backend/main.go changed"}}},
		{name: "both apps in config order", changed: []string{"apps/frontend/src/App.tsx", "apps/backend/go.mod"}, apps: []string{"backend", "frontend"}},
		{name: "prefixes are whole path segments", changed: []string{"environments/dev2/main.tf", "apps/backend-old/x", "terraform/modules/networking/main.tf", "environments/devx"}},
		{name: "unrelated files", changed: []string{"README.md", "docs/x.md"}},
		{name: "nothing changed", changed: nil},
		{name: "paths are cleaned and deduplicated", changed: []string{"./environments/dev/main.tf", "environments/dev/../dev/main.tf", "/environments/dev/main.tf"}, envs: []string{"dev"},
			reasons: map[string][]string{"dev": {"environments/dev/main.tf changed"}}},
		{name: "paths outside the repository are ignored", changed: []string{"../environments/dev/main.tf"}},
		{name: "everything at once", changed: []string{"environments/staging/x.tf", "terraform/modules/network/main.tf", "apps/frontend/package.json", "environments/dev/main.tf"},
			envs: []string{"dev", "staging", "prod"}, apps: []string{"frontend"},
			reasons: map[string][]string{"dev": {"environments/dev/main.tf changed", "module terraform/modules/network changed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Affected(fixture, cfg, tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Environments, tt.envs) {
				t.Errorf("Environments = %q, want %q", res.Environments, tt.envs)
			}
			if !reflect.DeepEqual(res.Apps, tt.apps) {
				t.Errorf("Apps = %q, want %q", res.Apps, tt.apps)
			}
			for k, want := range tt.reasons {
				if got := res.Reasons[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("Reasons[%s] = %q, want %q", k, got, want)
				}
			}
			for _, name := range append(append([]string(nil), res.Environments...), res.Apps...) {
				if len(res.Reasons[name]) == 0 {
					t.Errorf("%s affected without a reason", name)
				}
			}
			if len(res.Reasons) != len(res.Environments)+len(res.Apps) {
				t.Errorf("Reasons has keys for unaffected names: %v", res.Reasons)
			}
		})
	}
}

func TestAffectedCapsPerFileReasons(t *testing.T) {
	cfg := loadFixture(t)
	var changed []string
	for i := 0; i < maxFileReasons+5; i++ {
		changed = append(changed, filepath.ToSlash(filepath.Join("environments/dev", strings.Repeat("f", i+1)+".tf")))
	}
	res, err := Affected(fixture, cfg, changed)
	if err != nil {
		t.Fatal(err)
	}
	reasons := res.Reasons["dev"]
	if len(reasons) != maxFileReasons+1 || reasons[len(reasons)-1] != "and 5 more files under environments/dev" {
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

func TestAffectedReportsBrokenConfigurations(t *testing.T) {
	cfg := &config.Repo{Environments: []config.Environment{{Name: "dev", Dir: "environments/dev"}, {Name: "prod", Dir: "environments/prod"}}}
	tests := []struct {
		name     string
		files    map[string]string
		wantErr  []string
		wantEnvs []string // still decided for the healthy parts
	}{
		{name: "environment dir missing",
			files:    map[string]string{"environments/prod/main.tf": ""},
			wantErr:  []string{"environment dev: environments/dev: directory does not exist"},
			wantEnvs: []string{"dev", "prod"}},
		{name: "environment without .tf files",
			files:   map[string]string{"environments/dev/README.md": "", "environments/prod/main.tf": ""},
			wantErr: []string{"environment dev: environments/dev: no Terraform files"}, wantEnvs: []string{"dev", "prod"}},
		{name: "called module missing",
			files: map[string]string{
				"environments/dev/main.tf":  `module "x" { source = "../../terraform/modules/gone" }`,
				"environments/prod/main.tf": "",
			},
			wantErr: []string{"environment dev: terraform/modules/gone: directory does not exist"}, wantEnvs: []string{"dev", "prod"}},
		{name: "unparseable module",
			files: map[string]string{
				"environments/dev/main.tf":            `module "x" { source = "../../terraform/modules/bad" }`,
				"environments/prod/main.tf":           "",
				"terraform/modules/bad/main.tf":       "resource \"x\" \"y\" {\n  a = = 1\n",
				"terraform/modules/bad/variables.tf":  "",
				"terraform/modules/other/variable.tf": "",
			},
			wantErr: []string{"environment dev: terraform/modules/bad/main.tf:"}, wantEnvs: []string{"dev", "prod"}},
		{name: "local source outside the repository",
			files: map[string]string{
				"environments/dev/main.tf":  `module "x" { source = "../../../elsewhere" }`,
				"environments/prod/main.tf": "",
			},
			wantErr: []string{`environment dev: environments/dev: module "x": source "../../../elsewhere" is outside the repository`}, wantEnvs: []string{"dev", "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			res, err := Affected(root, cfg, []string{".runner.yaml"})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "environment prod") {
				t.Errorf("healthy prod reported: %v", err)
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
	cfg := &config.Repo{Environments: []config.Environment{{Name: "dev", Dir: "environments/dev"}}}
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
			res, err := Affected(root, cfg, []string{"terraform/modules/x/main.tf"})
			if err != nil {
				t.Fatalf("Affected: %v", err)
			}
			if want := []string{"dev"}; !reflect.DeepEqual(res.Environments, want) {
				t.Errorf("Environments = %q, want %q", res.Environments, want)
			}
			if want := []string{"module terraform/modules/x changed"}; !reflect.DeepEqual(res.Reasons["dev"], want) {
				t.Errorf("Reasons = %q, want %q", res.Reasons["dev"], want)
			}
		})
	}
}
