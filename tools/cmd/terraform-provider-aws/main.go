// Command terraform-provider-aws is the schema-replay stand-in for hashicorp/aws: it serves the real
// provider's schema and plans and applies offline with deterministic values (see tools/README.md).
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"

	"github.com/gitops-runner/runner/tools/internal/replay"
)

// schemaFiles are tried in order under shared/terraform: the current provider first.
var schemaFiles = []string{"aws-provider-schema-6.47.0.json.gz", "aws-provider-schema-4.36.1.json.gz"}

type config struct {
	schemaPath    string
	overridesPath string
	readLatency   time.Duration
}

func main() {
	cfg, err := configFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws (replay):", err)
		os.Exit(1)
	}
	// Terraform starts the provider several times per command; collecting less while the large schema
	// document is decoded makes each start faster.
	gc := debug.SetGCPercent(400)
	schemas, err := replay.LoadSchemaFile(cfg.schemaPath, "aws")
	debug.SetGCPercent(gc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws (replay):", err)
		os.Exit(1)
	}
	overrides, err := replay.LoadOverrides(cfg.overridesPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws (replay):", err)
		os.Exit(1)
	}
	provider := replay.New(schemas, overrides)
	provider.SetReadLatency(cfg.readLatency)
	provider.SetReality(os.Getenv("AWS_REPLAY_REALITY"))
	err = tf5server.Serve("registry.terraform.io/hashicorp/aws", func() tfprotov5.ProviderServer { return provider })
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws (replay):", err)
		os.Exit(1)
	}
}

// configFromEnv reads AWS_REPLAY_SCHEMA, AWS_REPLAY_OVERRIDES and AWS_REPLAY_READ_LATENCY (a Go duration
// such as 150ms); main reads AWS_REPLAY_REALITY (a file of what the cloud holds, see replay.Reality). Without AWS_REPLAY_SCHEMA the schema is looked up in shared/terraform beside any
// directory from the working directory up (so the repository's ../shared/terraform is found from anywhere
// inside the repository).
func configFromEnv() (config, error) {
	cfg := config{schemaPath: os.Getenv("AWS_REPLAY_SCHEMA"), overridesPath: os.Getenv("AWS_REPLAY_OVERRIDES")}
	if v := os.Getenv("AWS_REPLAY_READ_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("AWS_REPLAY_READ_LATENCY=%q: want a duration such as 150ms", v)
		}
		cfg.readLatency = d
	}
	if cfg.schemaPath != "" {
		return cfg, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return cfg, fmt.Errorf("find schema: %w", err)
	}
	for _, name := range schemaFiles {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidate := filepath.Join(dir, "shared", "terraform", name)
			if _, err := os.Stat(candidate); err == nil {
				cfg.schemaPath = candidate
				return cfg, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return cfg, errors.New("no aws provider schema: set AWS_REPLAY_SCHEMA or run below a directory beside shared/terraform")
}
