package infra_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The runner's own module (deploy/terraform/modules/runner), through its example root
// deploy/terraform/example, which scripts/validate-infra.sh plans and applies with the schema-replay
// provider into deploy-example.plan.json and deploy-example.applied.json.

const runnerModule = "module.runner"

// loadRunnerExample reads the example's plan and applied state.
func loadRunnerExample(t *testing.T) *envPlan {
	t.Helper()
	dir := os.Getenv(planDirEnv)
	if dir == "" {
		t.Skipf("%s is not set: run scripts/validate-infra.sh, which plans deploy/terraform/example into build/infra and runs these tests", planDirEnv)
	}
	p, err := readPlan(filepath.Join(dir, "deploy-example.plan.json"))
	if err != nil {
		t.Fatalf("deploy/terraform/example: %v", err)
	}
	st, err := readState(filepath.Join(dir, "deploy-example.applied.json"))
	if err != nil {
		t.Fatalf("deploy/terraform/example: %v", err)
	}
	return &envPlan{env: "deploy-example", plan: p, config: indexConfig(p.Config), state: st}
}

// appliedNamed returns the one applied instance of a resource of the runner module, by type and name.
func (p *envPlan) appliedNamed(t *testing.T, typ, name string) resource {
	t.Helper()
	rs := p.appliedByKey(runnerModule + "." + typ + "." + name)
	if len(rs) != 1 {
		t.Fatalf("%d applied %s.%s in %s, want 1", len(rs), typ, name, runnerModule)
	}
	return rs[0]
}

// policiesOf returns the applied inline policies attached to a role of the runner module (a
// configuration address such as module.runner.aws_iam_role.plan).
func (p *envPlan) policiesOf(role string) []resource {
	var out []resource
	for _, rp := range p.applied("aws_iam_role_policy") {
		if slices.Contains(p.references(rp, "role"), role) {
			out = append(out, rp)
		}
	}
	return out
}

// trustStatement is an assume-role policy statement with what the assertions read.
type trustStatement struct {
	Effect    string                    `json:"Effect"`
	Action    any                       `json:"Action"`
	Principal map[string]any            `json:"Principal"`
	Condition map[string]map[string]any `json:"Condition"`
}

func trustStatements(t *testing.T, role resource) []trustStatement {
	t.Helper()
	var doc struct {
		Statement []trustStatement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(role.str("assume_role_policy")), &doc); err != nil {
		t.Fatalf("%s: assume_role_policy is not JSON: %v", role.address, err)
	}
	return doc.Statement
}

// runnerContainer is the part of the runner's container definition the assertions read.
type runnerContainer struct {
	container
	MountPoints []struct {
		SourceVolume  string `json:"sourceVolume"`
		ContainerPath string `json:"containerPath"`
		ReadOnly      bool   `json:"readOnly"`
	} `json:"mountPoints"`
}

func (p *envPlan) runnerContainers(t *testing.T) (resource, []runnerContainer) {
	t.Helper()
	td := p.appliedNamed(t, "aws_ecs_task_definition", "runner")
	var cs []runnerContainer
	if err := json.Unmarshal([]byte(td.str("container_definitions")), &cs); err != nil {
		t.Fatalf("%s: container definitions are not JSON: %v", td.address, err)
	}
	return td, cs
}
