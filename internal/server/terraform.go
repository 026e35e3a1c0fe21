package server

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/tf"
)

// terraformRunner plans and applies with a fresh tf.Workspace per call (a
// workspace is never shared between goroutines).
type terraformRunner struct {
	bin         string
	pluginCache string
	env         map[string]string
	timeout     time.Duration
}

// NewTerraform finds the binary (explicit, else terraform, else tofu on PATH).
func NewTerraform(explicitBin, pluginCache string, env map[string]string, timeout time.Duration) (pipeline.Terraform, error) {
	bin, err := tf.FindBinary(explicitBin, execLookPath)
	if err != nil {
		return nil, err
	}
	return &terraformRunner{bin: bin, pluginCache: pluginCache, env: env, timeout: timeout}, nil
}

func (t *terraformRunner) workspace(env, dir string, log interface{ Write([]byte) (int, error) }) (*tf.Workspace, error) {
	return tf.New(tf.Options{
		Bin: t.bin, Dir: dir, Environment: env, PluginCacheDir: t.pluginCache, Env: t.env,
		Log: log, CommandTimeout: t.timeout,
	})
}

func (t *terraformRunner) Plan(ctx context.Context, req pipeline.PlanRequest) (pipeline.PlanResult, error) {
	ws, err := t.workspace(req.Env, req.Dir, req.Log)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	fmt.Fprintf(req.Log, "$ terraform init (%s)\n", req.Env)
	if err := ws.Init(ctx); err != nil {
		return pipeline.PlanResult{}, err
	}
	fmt.Fprintf(req.Log, "$ terraform plan -out %s\n", req.PlanFile)
	if _, err := ws.Plan(ctx, req.PlanFile, req.Vars); err != nil {
		return pipeline.PlanResult{}, err
	}
	p, err := ws.Show(ctx, req.PlanFile)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	text, err := ws.ShowText(ctx, req.PlanFile)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	sum := tf.Summarize(req.Env, p)
	fmt.Fprint(req.Log, sum.Text())
	return pipeline.PlanResult{Summary: sum, Text: text}, nil
}

func (t *terraformRunner) Apply(ctx context.Context, req pipeline.ApplyRequest) (map[string]string, error) {
	if _, err := os.Stat(req.PlanFile); err != nil {
		return nil, fmt.Errorf("saved plan for %s: %w", req.Env, err)
	}
	ws, err := t.workspace(req.Env, req.Dir, req.Log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(req.Log, "$ terraform apply %s\n", req.PlanFile)
	if err := ws.Apply(ctx, req.PlanFile); err != nil {
		return nil, err
	}
	return ws.Outputs(ctx)
}

// Outputs initialises the environment and reads its current outputs (no plan, no apply).
func (t *terraformRunner) Outputs(ctx context.Context, req pipeline.ApplyRequest) (map[string]string, error) {
	ws, err := t.workspace(req.Env, req.Dir, req.Log)
	if err != nil {
		return nil, err
	}
	if err := ws.Init(ctx); err != nil {
		return nil, err
	}
	return ws.Outputs(ctx)
}
