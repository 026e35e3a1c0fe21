package changes

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gitops-runner/runner/internal/repofs"
)

func TestLinks(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.tfvars": "x = 1\n"})

	tests := []struct {
		name  string
		files map[string]string
		links map[string]string // link path -> target as written; "OUTSIDE/" is replaced by the outside dir
		dir   string
		want  []Link
		err   string
	}{
		{
			name:  "tfvars linked to a file two directories up",
			files: map[string]string{"common.auto.tfvars": "a = 1\n", "environments/prod/main.tf": ""},
			links: map[string]string{"environments/prod/common.auto.tfvars": "../../common.auto.tfvars"},
			dir:   "environments/prod",
			want:  []Link{{Path: "environments/prod/common.auto.tfvars", Target: "common.auto.tfvars"}},
		},
		{
			name:  "a chain of links ends at the file",
			files: map[string]string{"common/x.tfvars": "a = 1\n"},
			links: map[string]string{
				"environments/prod/x.tfvars":   "../shared/x.tfvars",
				"environments/shared/x.tfvars": "../../common/link.tfvars",
				"common/link.tfvars":           "x.tfvars",
			},
			dir:  "environments/prod",
			want: []Link{{Path: "environments/prod/x.tfvars", Target: "common/x.tfvars"}},
		},
		{
			name:  "a linked directory is listed with the directory as target",
			files: map[string]string{"modules/web/main.tf": ""},
			links: map[string]string{"environments/prod/web": "../../modules/web", "environments/prod/mods": "../../modules/"},
			dir:   "environments/prod",
			want: []Link{
				{Path: "environments/prod/mods", Target: "modules"},
				{Path: "environments/prod/web", Target: "modules/web"},
			},
		},
		{
			name:  "dangling, looping and outside links are skipped",
			files: map[string]string{"environments/prod/main.tf": "", "inside.tfvars": ""},
			links: map[string]string{
				"environments/prod/dangling": "gone.tfvars",
				"environments/prod/loop-a":   "loop-b",
				"environments/prod/loop-b":   "loop-a",
				"environments/prod/self":     "self",
				"environments/prod/abs-out":  "OUTSIDE/secret.tfvars",
				"environments/prod/rel-out":  "../../../x",
				"environments/prod/root-out": "/",
				"environments/prod/ok":       "../../inside.tfvars",
			},
			dir:  "environments/prod",
			want: []Link{{Path: "environments/prod/ok", Target: "inside.tfvars"}},
		},
		{
			name:  "a link through a linked directory follows it physically",
			files: map[string]string{"a/b/c.tfvars": "", "c.tfvars": ""},
			links: map[string]string{
				"ext":         "OUTSIDE",
				"deep":        "a/b",
				"env/via-ext": "../ext/secret.tfvars",
				// deep/.. is a, not the repository root: c.tfvars is read from a/b/../c.tfvars = a/c.tfvars, which does not exist.
				"env/via-deep-up": "../deep/../c.tfvars",
				"env/via-deep":    "../deep/c.tfvars",
			},
			dir:  "env",
			want: []Link{{Path: "env/via-deep", Target: "a/b/c.tfvars"}},
		},
		{
			// The repository is read as a file system of its own (a commit read from the mirror has
			// no place on disk), so an absolute target leads out of it even where it names the checkout.
			name:  "an absolute target is outside, even into the checkout",
			files: map[string]string{"shared.tfvars": ""},
			links: map[string]string{"env/abs": "REPO/shared.tfvars", "env/rel": "../shared.tfvars"},
			dir:   "env",
			want:  []Link{{Path: "env/rel", Target: "shared.tfvars"}},
		},
		{
			name:  "links to the repository root and at the root",
			files: map[string]string{"x.tfvars": ""},
			links: map[string]string{"root": ".", "top": "x.tfvars"},
			dir:   ".",
			want:  []Link{{Path: "root", Target: "."}, {Path: "top", Target: "x.tfvars"}},
		},
		{
			name:  "regular files are not listed",
			files: map[string]string{"env/main.tf": "", "env/sub/x": ""},
			dir:   "env",
		},
		{
			name: "a missing directory is an error",
			dir:  "env",
			err:  "listing links in env",
		},
		{
			name: "a directory outside the repository is an error",
			dir:  "../env",
			err:  `directory "../env" is not inside the repository`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			writeTree(t, repo, tt.files)
			for link, target := range tt.links {
				target = expandTarget(target, repo, outside)
				p := filepath.Join(repo, filepath.FromSlash(link))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Links(repofs.Dir(repo), tt.dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Links:\n got %#v\nwant %#v", got, tt.want)
			}
			if tt.err == "" {
				checkErr(t, err, nil)
			} else {
				checkErr(t, err, []string{tt.err})
			}
		})
	}
}

func expandTarget(target, repo, outside string) string {
	for prefix, dir := range map[string]string{"OUTSIDE": outside, "REPO": repo} {
		if len(target) >= len(prefix) && target[:len(prefix)] == prefix {
			return dir + filepath.FromSlash(target[len(prefix):])
		}
	}
	return filepath.FromSlash(target)
}

func TestLinksRepositoryBehindASymlink(t *testing.T) {
	real := t.TempDir()
	writeTree(t, real, map[string]string{"x.tfvars": "", "env/main.tf": ""})
	if err := os.Symlink("../x.tfvars", filepath.Join(real, "env", "x.tfvars")); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(t.TempDir(), "repo")
	if err := os.Symlink(real, alias); err != nil {
		t.Fatal(err)
	}
	got, err := Links(repofs.Dir(alias), "env")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Link{{Path: "env/x.tfvars", Target: "x.tfvars"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Links = %#v, want %#v", got, want)
	}
}

func TestLinksHopLimit(t *testing.T) {
	for _, tt := range []struct {
		links int
		ok    bool
	}{{repofs.MaxLinkHops, true}, {repofs.MaxLinkHops + 1, false}} {
		t.Run(fmt.Sprintf("%d links", tt.links), func(t *testing.T) {
			repo := t.TempDir()
			writeTree(t, repo, map[string]string{"target": "", "env/main.tf": ""})
			// env/link -> chain/1 -> chain/2 -> ... -> chain/<links-1> -> target
			if err := os.Mkdir(filepath.Join(repo, "chain"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < tt.links; i++ {
				target := fmt.Sprint(i + 1)
				if i == tt.links-1 {
					target = "../target"
				}
				if err := os.Symlink(target, filepath.Join(repo, "chain", fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("../chain/1", filepath.Join(repo, "env", "link")); err != nil {
				t.Fatal(err)
			}
			got, err := Links(repofs.Dir(repo), "env")
			if err != nil {
				t.Fatal(err)
			}
			var want []Link
			if tt.ok {
				want = []Link{{Path: "env/link", Target: "target"}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Links = %#v, want %#v", got, want)
			}
		})
	}
}
