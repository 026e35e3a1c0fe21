package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkPlanDeployedAWS is BenchmarkPlanOneEnvironmentAWS on environments
// that are already deployed, the usual case for a pull request: the three
// environments are applied once (by hand, into local state files outside the
// work trees), so every plan refreshes about 100 resources; and every read the
// schema-replay provider answers (refresh and data sources) waits
// AWS_REPLAY_READ_LATENCY (default 150ms), a model of one AWS API round trip
// per read (real reads often make several calls). Plans then wait on "the API"
// as real ones do instead of being pure CPU, which is what the fixed costs of
// the runner (one `terraform show -json`, its queue and posts) and the two
// cores of this machine are measured against. Same targets, same code
// (measurePlans); metrics prefixed "deployed-".
func BenchmarkPlanDeployedAWS(b *testing.B) {
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
	latency := cmp.Or(os.Getenv("AWS_REPLAY_READ_LATENCY"), "150ms")
	if _, err := time.ParseDuration(latency); err != nil {
		b.Fatalf("AWS_REPLAY_READ_LATENCY=%q: %v", latency, err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("TF_CLI_CONFIG_FILE", replayProviderConfig(b, root, schema))
	b.Setenv("AWS_REPLAY_SCHEMA", schema)
	b.Setenv("AWS_REPLAY_READ_LATENCY", "0s") // the deploy below is set-up, not measured

	envs := []string{"dev", "staging", "prod"}
	o := newProjectOrigin(b, root, b.TempDir())
	deployByHand(b, bin, authURL(o.git.URL(repoName)), envs)
	b.Setenv("AWS_REPLAY_READ_LATENCY", latency)

	clock := newCommandClock(b, bin)
	cfg := baseConfig(b, o, clock.bin)
	cfg.SandboxReadWrite = append(cfg.SandboxReadWrite, clock.dir) // sandboxed Terraform appends to the clock's log
	cfg.Workers, cfg.PlanParallelism = 2, 3
	r := startRunner(b, cfg)
	hand := handPlanner{bin: clock.bin, cache: filepath.Join(b.TempDir(), "plugin-cache"), url: authURL(o.git.URL(repoName))}
	measurePlans(b, r, o, hand, clock, planScenario{
		title: fmt.Sprintf("deployed project environments (about 100 resources refreshed per plan), schema-replay aws provider with %s per read (%s)",
			latency, filepath.Base(schema)),
		slowNote:      "most resources",
		metric:        "deployed-",
		oneIterations: 3, scaleIterations: 3,
	})
}

// deployByHand clones main and applies each environment (init one at a time,
// then the applies at once), filling the local state files that the fixture's
// backends point at.
func deployByHand(b *testing.B, bin, url string, envs []string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(b.TempDir(), "deploy")
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "TF_IN_AUTOMATION=1")
	run := func(wd string, args ...string) error {
		c := exec.CommandContext(ctx, args[0], args[1:]...)
		c.Dir, c.Env = wd, env
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("", "git", "clone", "-q", "--branch", "main", url, dir); err != nil {
		b.Fatal(err)
	}
	for _, e := range envs {
		if err := run(filepath.Join(dir, "environments", e), bin, "init", "-input=false", "-no-color"); err != nil {
			b.Fatal(err)
		}
	}
	errs := make(chan error, len(envs))
	for _, e := range envs {
		go func() {
			errs <- run(filepath.Join(dir, "environments", e), bin, "apply", "-input=false", "-no-color", "-auto-approve")
		}()
	}
	for range envs {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
