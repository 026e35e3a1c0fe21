package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
)

// awsSchemaFile is the real aws provider schema the schema-replay provider serves.
const awsSchemaFile = "aws-provider-schema-6.47.0.json.gz"

// BenchmarkPlanOneEnvironmentAWS is BenchmarkPlanOneEnvironment on the
// project's own environments (environments/dev, staging, prod and
// terraform/modules: about 100 aws resources each), with hashicorp/aws served
// by the schema-replay provider (tools/cmd/terraform-provider-aws) set up as
// scripts/validate-infra.sh does it: a CLI config with dev_overrides and a
// filesystem mirror, TF_CLI_CONFIG_FILE, which the runner's Terraform inherits.
// Each environment's S3 backend is replaced by a local one in the fixture copy.
// It skips without the schema (../shared/terraform or AWS_REPLAY_SCHEMA).
func BenchmarkPlanOneEnvironmentAWS(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end benchmark running Terraform; not in -short runs")
	}
	schema, err := awsReplaySchema()
	if err != nil {
		b.Skipf("no aws provider schema for the schema-replay provider (%v): put ../shared/terraform/%s beside the repository or set AWS_REPLAY_SCHEMA", err, awsSchemaFile)
	}
	bin, err := terraformBin(b)
	if err != nil {
		b.Skipf("terraform not available (%v): set RUNNER_TERRAFORM_BIN or put terraform on PATH", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	// The runner's Terraform, and the providers it starts, inherit both
	// (internal/tf passes TF_CLI_CONFIG_FILE and AWS_* on).
	b.Setenv("TF_CLI_CONFIG_FILE", replayProviderConfig(b, root, schema))
	b.Setenv("AWS_REPLAY_SCHEMA", schema)

	o := newProjectOrigin(b, root, "")
	clock := newCommandClock(b, bin)
	cfg := baseConfig(b, o, clock.bin)
	cfg.SandboxReadWrite = append(cfg.SandboxReadWrite, clock.dir) // sandboxed Terraform appends to the clock's log
	cfg.Workers, cfg.PlanParallelism = 2, 3
	r := startRunner(b, cfg)
	hand := handPlanner{bin: clock.bin, cache: filepath.Join(b.TempDir(), "plugin-cache"), url: authURL(o.git.URL(repoName))}
	measurePlans(b, r, o, hand, clock, planScenario{
		title:    "project environments with the schema-replay aws provider (" + filepath.Base(schema) + ")",
		slowNote: "most resources",
		metric:   "aws-",
		// Each plan takes seconds here: fewer iterations keep the run near 3 minutes.
		oneIterations: 3, scaleIterations: 3,
	})
}

// awsReplaySchema is AWS_REPLAY_SCHEMA, else ../shared/terraform/<awsSchemaFile>
// beside the repository, as an absolute path.
func awsReplaySchema() (string, error) {
	p := os.Getenv("AWS_REPLAY_SCHEMA")
	if p == "" {
		p = filepath.Join("..", "..", "shared", "terraform", awsSchemaFile)
	}
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// replayProviderConfig builds the schema-replay provider and writes the CLI
// config scripts/validate-infra.sh writes: dev_overrides for hashicorp/aws plus
// a filesystem mirror offering the same binary at the schema's version (init
// still resolves overridden providers), and direct for everything else.
func replayProviderConfig(b *testing.B, root, schema string) string {
	b.Helper()
	version := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(schema), "aws-provider-schema-"), ".gz"), ".json")
	if strings.Count(version, ".") != 2 {
		version = "6.47.0"
	}
	dir := b.TempDir()
	provider := filepath.Join(dir, "provider")
	mirror := filepath.Join(dir, "mirror")
	mirrored := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", version, "linux_amd64")
	if err := os.MkdirAll(mirrored, 0o755); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(provider, "terraform-provider-aws"), "./cmd/terraform-provider-aws")
	build.Dir = filepath.Join(root, "tools")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the schema-replay provider: %v\n%s", err, out)
	}
	if err := copyFile(filepath.Join(provider, "terraform-provider-aws"), filepath.Join(mirrored, "terraform-provider-aws_v"+version), 0o755); err != nil {
		b.Fatal(err)
	}
	rc := filepath.Join(dir, "terraformrc")
	text := fmt.Sprintf(`disable_checkpoint = true
provider_installation {
  dev_overrides {
    "hashicorp/aws" = %q
  }
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, provider, mirror)
	if err := os.WriteFile(rc, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	return rc
}

// newProjectOrigin is a git repository holding copies of the project's
// terraform/, environments/ and the nginx template the frontend module reads,
// with local backends and a .runner.yaml for the three environments, behind the
// git server and the GitHub stand-in.
// With stateDir set, each environment's local backend keeps its state at
// stateDir/<env>.tfstate (outside the work trees, so plans see deployed state).
func newProjectOrigin(b *testing.B, root, stateDir string) *origin {
	b.Helper()
	dir := b.TempDir()
	repo := &fixture.Repo{Dir: filepath.Join(dir, "work"), Remote: filepath.Join(dir, "remote", repoName+".git")}
	git := func(wd string, args ...string) {
		b.Helper()
		cmd := exec.Command("git", append([]string{"-C", wd}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, d := range []string{repo.Remote, repo.Dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	git(repo.Remote, "init", "--bare", "-q", "-b", "main")
	git(repo.Remote, "config", "http.receivepack", "true")
	git(repo.Dir, "init", "-q", "-b", "main")
	for _, kv := range [][2]string{{"user.name", "Dana Dev"}, {"user.email", "dana@example.com"}, {"commit.gpgsign", "false"}} {
		git(repo.Dir, "config", kv[0], kv[1])
	}
	git(repo.Dir, "remote", "add", "origin", repo.Remote)

	for _, sub := range []string{"terraform", "environments"} {
		if err := copyTerraformTree(filepath.Join(root, sub), filepath.Join(repo.Dir, sub)); err != nil {
			b.Fatal(err)
		}
	}
	tpl := filepath.Join("apps", "frontend", "nginx", "app.conf.tpl")
	if err := os.MkdirAll(filepath.Dir(filepath.Join(repo.Dir, tpl)), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := copyFile(filepath.Join(root, tpl), filepath.Join(repo.Dir, tpl), 0o644); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{".gitignore": ".terraform/\n*.tfplan\n*.tfstate\n"}
	var yaml strings.Builder
	yaml.WriteString("environments:\n")
	for i, env := range []string{"dev", "staging", "prod"} {
		if _, err := os.Stat(filepath.Join(repo.Dir, "environments", env, "main.tf")); err != nil {
			b.Fatalf("environments/%s: %v", env, err)
		}
		// Without stateDir, plans run against an empty local state (the state
		// file would be created in the run's work tree, never written by a plan).
		backend := "{}"
		if stateDir != "" {
			backend = fmt.Sprintf("{\n    path = %q\n  }", filepath.Join(stateDir, env+".tfstate"))
		}
		files["environments/"+env+"/backend.tf"] = "# benchmark fixture: a local backend instead of the S3 one\nterraform {\n  backend \"local\" " + backend + "\n}\n"
		fmt.Fprintf(&yaml, "  - name: %s\n    dir: environments/%s\n    order: %d\n    api_url: /api\n", env, env, i+1)
	}
	yaml.WriteString("apps: []\n")
	files[".runner.yaml"] = yaml.String()
	if err := repo.WriteFiles(files); err != nil {
		b.Fatal(err)
	}
	if _, err := repo.Commit("Project environments with local backends"); err != nil {
		b.Fatal(err)
	}
	if err := repo.Push("main"); err != nil {
		b.Fatal(err)
	}
	gs, err := gitserver.Start(filepath.Join(dir, "remote"), gitToken)
	if err != nil {
		b.Skipf("git http server not available: %v", err)
	}
	b.Cleanup(gs.Close)
	gh := fakegithub.New(fakegithub.Config{Tokens: []string{gitToken}})
	gh.SetCollaborator(repoName, benchAuthor, fakegithub.Collaborator{Role: "write"})
	b.Cleanup(gh.Close)
	return &origin{state: stateDir, repo: repo, git: gs, gh: gh}
}

// copyTerraformTree copies src to dst without what a local terraform run leaves
// behind (.terraform, state, plans) and without lock files, whose checksums are
// the real provider's and which the replay binary cannot match.
func copyTerraformTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if name == ".terraform.lock.hcl" || strings.Contains(name, ".tfstate") || strings.HasSuffix(name, ".tfplan") {
			return nil
		}
		if !d.Type().IsRegular() {
			return errors.New(p + ": not a regular file")
		}
		return copyFile(p, filepath.Join(dst, rel), 0o644)
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}
