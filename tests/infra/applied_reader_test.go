package infra_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// Some values an assertion needs exist only after apply: the ARN of the secret RDS creates, the
// security group IDs that tie a rule to a group in another module, the load balancer a WAF
// association names. scripts/validate-infra.sh applies each environment's plan with the
// schema-replay provider, which fills them deterministically, and writes the state as
// <env>.applied.json; these helpers read it.

// readState reads the JSON of `terraform show -json` without a plan file (the state).
func readState(path string) (*tfjson.State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("state %s is missing: scripts/validate-infra.sh applies every environment's plan with the schema-replay provider and writes it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s tfjson.State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", path, err)
	}
	if s.Values == nil || s.Values.RootModule == nil {
		return nil, fmt.Errorf("state %s has no values: was the plan applied?", path)
	}
	return &s, nil
}

// applied returns the managed resource instances of a type in the applied state, every value known.
func (p *envPlan) applied(typ string) []resource {
	var out []resource
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode && r.Type == typ {
				out = append(out, resource{
					address: r.Address,
					module:  stripKeys(m.Address),
					typ:     r.Type,
					name:    r.Name,
					after:   r.AttributeValues,
				})
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(p.state.Values.RootModule)
	return out
}

// appliedOne returns the only applied instance of a type, failing the test otherwise.
func (p *envPlan) appliedOne(t *testing.T, typ string) resource {
	t.Helper()
	rs := p.applied(typ)
	if len(rs) != 1 {
		t.Fatalf("%d %s after apply, want 1", len(rs), typ)
	}
	return rs[0]
}

// appliedByKey returns the applied instances of the resource with a configuration address.
func (p *envPlan) appliedByKey(key string) []resource {
	parts := strings.Split(key, ".")
	if len(parts) < 2 {
		return nil
	}
	var out []resource
	for _, r := range p.applied(parts[len(parts)-2]) {
		if r.key() == key {
			out = append(out, r)
		}
	}
	return out
}

// appliedOutput returns a root output's value after apply.
func (p *envPlan) appliedOutput(name string) (any, bool) {
	o, ok := p.state.Values.Outputs[name]
	if !ok || o == nil {
		return nil, false
	}
	return o.Value, true
}

// container is the part of an ECS container definition the assertions read.
type container struct {
	Name                   string `json:"name"`
	Image                  string `json:"image"`
	Essential              *bool  `json:"essential"`
	ReadonlyRootFilesystem bool   `json:"readonlyRootFilesystem"`
	PortMappings           []struct {
		ContainerPort int `json:"containerPort"`
	} `json:"portMappings"`
	Environment []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"environment"`
	Secrets []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secrets"`
	LogConfiguration struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

func (c container) env(name string) (string, bool) {
	for _, e := range c.Environment {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func (c container) secret(name string) (string, bool) {
	for _, s := range c.Secrets {
		if s.Name == name {
			return s.ValueFrom, true
		}
	}
	return "", false
}

// taskContainers returns the API's task definition and its containers: from the plan when the
// definitions are known there (a plan of a deployed environment), else from the applied state (a
// new environment: the database's address and secret are only known after apply).
func (p *envPlan) taskContainers(t *testing.T) (resource, []container) {
	t.Helper()
	defs := p.resources("aws_ecs_task_definition")
	if len(defs) != 1 {
		t.Fatalf("%d task definitions, want 1", len(defs))
	}
	td := defs[0]
	if td.isUnknown("container_definitions") {
		td = p.appliedOne(t, "aws_ecs_task_definition")
	}
	var cs []container
	if err := json.Unmarshal([]byte(td.str("container_definitions")), &cs); err != nil {
		t.Fatalf("%s: container definitions are not JSON: %v", td.address, err)
	}
	return td, cs
}

// apiContainer returns the container serving the API port (8080).
func apiContainer(t *testing.T, cs []container) container {
	t.Helper()
	var out []container
	for _, c := range cs {
		for _, pm := range c.PortMappings {
			if pm.ContainerPort == 8080 {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d containers serve port 8080, want the API's only", len(out))
	}
	return out[0]
}

// secretARN strips the JSON key, version stage and version ID from an ECS secrets valueFrom
// (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<key>:<stage>:<id>]).
func secretARN(valueFrom string) string {
	parts := strings.Split(valueFrom, ":")
	if len(parts) > 7 {
		parts = parts[:7]
	}
	return strings.Join(parts, ":")
}

// sensitiveName matches names of settings that hold credentials.
var sensitiveName = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|private_?key|api_?key)`)

// rolePolicies returns the statements of every inline policy of the IAM role a task definition
// argument (execution_role_arn, task_role_arn) refers to, read after apply (some policies name
// secrets whose ARNs only exist then), and fails on managed policy attachments to that role.
func (p *envPlan) rolePolicies(t *testing.T, td resource, arg string) (string, []statement) {
	t.Helper()
	roles := p.references(td, arg)
	if len(roles) != 1 {
		t.Fatalf("%s refers to %v, want one IAM role", arg, roles)
	}
	role := roles[0]
	for _, a := range p.resources("aws_iam_role_policy_attachment") {
		if slices.Contains(p.references(a, "role"), role) {
			t.Errorf("%s attaches %s to %s; its permissions must be inline and scoped", a.address, a.str("policy_arn"), role)
		}
	}
	var out []statement
	for _, rp := range p.applied("aws_iam_role_policy") {
		if slices.Contains(p.references(rp, "role"), role) {
			out = append(out, policyStatements(t, rp)...)
		}
	}
	return role, out
}
