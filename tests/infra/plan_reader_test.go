package infra_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// planDirEnv names the directory holding <env>.plan.json files, the output of
// `terraform show -json` for each environment (scripts/validate-infra.sh writes them).
const planDirEnv = "INFRA_PLAN_DIR"

var environments = []string{"dev", "staging", "prod"}

// envPlan is one environment's plan with the lookups the assertions need.
type envPlan struct {
	env  string
	plan *tfjson.Plan
	// config indexes the configuration's resource blocks by "<module path>.<type>.<name>"
	// (data sources: "<module path>.data.<type>.<name>").
	config map[string]configResource
	// state is the plan applied with the schema-replay provider (environments only; nil for the
	// account-level roots): see applied_reader_test.go.
	state *tfjson.State
}

// loadPlans reads every environment's plan and applied state, skipping the test when no plan
// directory is configured and failing it when a configured directory lacks either.
func loadPlans(t *testing.T) []*envPlan {
	t.Helper()
	dir := os.Getenv(planDirEnv)
	if dir == "" {
		t.Skipf("%s is not set: run scripts/validate-infra.sh, which plans every environment into build/infra and runs these tests", planDirEnv)
	}
	var plans []*envPlan
	for _, env := range environments {
		p, err := readPlan(filepath.Join(dir, env+".plan.json"))
		if err != nil {
			t.Fatalf("environment %s: %v", env, err)
		}
		st, err := readState(filepath.Join(dir, env+".applied.json"))
		if err != nil {
			t.Fatalf("environment %s: %v", env, err)
		}
		plans = append(plans, &envPlan{env: env, plan: p, config: indexConfig(p.Config), state: st})
	}
	return plans
}

// loadRoot reads the plan of an account-level root (terraform/<name>, e.g. "shared"), which
// scripts/validate-infra.sh writes to <name>.plan.json beside the environments' plans.
func loadRoot(t *testing.T, name string) *envPlan {
	t.Helper()
	dir := os.Getenv(planDirEnv)
	if dir == "" {
		t.Skipf("%s is not set: run scripts/validate-infra.sh, which plans terraform/%s into build/infra and runs these tests", planDirEnv, name)
	}
	p, err := readPlan(filepath.Join(dir, name+".plan.json"))
	if err != nil {
		t.Fatalf("root terraform/%s: %v", name, err)
	}
	return &envPlan{env: name, plan: p, config: indexConfig(p.Config)}
}

func readPlan(path string) (*tfjson.Plan, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("plan %s is missing (%s is set, so every environment's plan must be there)", path, planDirEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode plan %s: %w", path, err)
	}
	if p.Config == nil || p.Config.RootModule == nil {
		return nil, fmt.Errorf("plan %s has no configuration section", path)
	}
	return &p, nil
}

// resource is one managed resource instance the plan creates or keeps.
type resource struct {
	address string
	module  string // module path without instance keys, e.g. module.app_stack.module.network
	typ     string
	name    string
	after   map[string]any
	unknown map[string]any
}

// resources returns the managed resource instances of a type that exist after the plan.
func (p *envPlan) resources(typ string) []resource {
	var out []resource
	for _, rc := range p.plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Type != typ || rc.Change == nil {
			continue
		}
		if rc.Change.Actions.Delete() && !rc.Change.Actions.Replace() {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		out = append(out, resource{
			address: rc.Address,
			module:  stripKeys(rc.ModuleAddress),
			typ:     rc.Type,
			name:    rc.Name,
			after:   after,
			unknown: unknown,
		})
	}
	return out
}

// dataSources returns the data source instances of a type with the values the plan read: from the
// prior state when Terraform read them while planning, else from a deferred read's change.
func (p *envPlan) dataSources(typ string) []resource {
	var out []resource
	if p.plan.PriorState != nil && p.plan.PriorState.Values != nil {
		var walk func(m *tfjson.StateModule)
		walk = func(m *tfjson.StateModule) {
			if m == nil {
				return
			}
			for _, r := range m.Resources {
				if r.Mode == tfjson.DataResourceMode && r.Type == typ {
					module := strings.TrimSuffix(strings.TrimSuffix(r.Address, "data."+r.Type+"."+r.Name+indexSuffix(r.Address)), ".")
					out = append(out, resource{
						address: r.Address,
						module:  stripKeys(module),
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
		walk(p.plan.PriorState.Values.RootModule)
	}
	for _, rc := range p.plan.ResourceChanges {
		if rc.Mode != tfjson.DataResourceMode || rc.Type != typ || rc.Change == nil {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		out = append(out, resource{
			address: rc.Address,
			module:  stripKeys(rc.ModuleAddress),
			typ:     rc.Type,
			name:    rc.Name,
			after:   after,
			unknown: unknown,
		})
	}
	return out
}

// indexSuffix returns the instance key at the end of an address ("[0]", `["a"]`), or "".
func indexSuffix(addr string) string {
	if !strings.HasSuffix(addr, "]") {
		return ""
	}
	if i := strings.LastIndex(addr, "["); i >= 0 {
		return addr[i:]
	}
	return ""
}

// moduleCallReferences returns what the argument arg of the module call at a module path
// (e.g. "module.app_stack.module.backend") refers to, as Terraform lists it: "data.aws_x.y.arn",
// "data.aws_x.y", "module.z.out", ...
func (p *envPlan) moduleCallReferences(modulePath, arg string) ([]string, bool) {
	m := p.plan.Config.RootModule
	var call *tfjson.ModuleCall
	for _, part := range strings.Split(modulePath, ".") {
		if part == "module" {
			continue
		}
		if m == nil {
			return nil, false
		}
		call = m.ModuleCalls[part]
		if call == nil {
			return nil, false
		}
		m = call.Module
	}
	if call == nil {
		return nil, false
	}
	e := call.Expressions[arg]
	if e == nil || e.ExpressionData == nil {
		return nil, false
	}
	return e.References, true
}

// created counts the resource instances the plan creates.
func (p *envPlan) created() int {
	n := 0
	for _, rc := range p.plan.ResourceChanges {
		if rc.Mode == tfjson.ManagedResourceMode && rc.Change != nil && rc.Change.Actions.Create() {
			n++
		}
	}
	return n
}

var instanceKey = regexp.MustCompile(`\[[^\]]*\]`)

func stripKeys(addr string) string { return instanceKey.ReplaceAllString(addr, "") }

// key is the resource's configuration address: module path, type and name.
func (r resource) key() string { return joinAddr(r.module, r.typ+"."+r.name) }

func joinAddr(module, rel string) string {
	if module == "" {
		return rel
	}
	return module + "." + rel
}

// str returns a known string attribute, or "" when it is null or unknown.
func (r resource) str(attr string) string {
	s, _ := r.after[attr].(string)
	return s
}

// isUnknown reports whether a top-level attribute is only known after apply.
func (r resource) isUnknown(attr string) bool {
	b, _ := r.unknown[attr].(bool)
	return b
}

// block returns the first element of a nested block (list or set of one), or nil.
func block(m map[string]any, name string) map[string]any {
	l, _ := m[name].([]any)
	if len(l) == 0 {
		return nil
	}
	b, _ := l[0].(map[string]any)
	return b
}

// path follows nested blocks, taking the first element of each.
func path(m map[string]any, names ...string) map[string]any {
	for _, n := range names {
		if m == nil {
			return nil
		}
		m = block(m, n)
	}
	return m
}

// configResource is a resource block of the configuration with its module path.
type configResource struct {
	module string
	res    *tfjson.ConfigResource
}

// indexConfig maps "<module path>.<type>.<name>" to every resource block of the configuration,
// and "<module path>.data.<type>.<name>" to every data block.
func indexConfig(cfg *tfjson.Config) map[string]configResource {
	idx := map[string]configResource{}
	var walk func(module string, m *tfjson.ConfigModule)
	walk = func(module string, m *tfjson.ConfigModule) {
		for _, r := range m.Resources {
			rel := r.Type + "." + r.Name
			if r.Mode == tfjson.DataResourceMode {
				rel = "data." + rel
			}
			idx[joinAddr(module, rel)] = configResource{module: module, res: r}
		}
		for name, call := range m.ModuleCalls {
			if call.Module != nil {
				walk(joinAddr(module, "module."+name), call.Module)
			}
		}
	}
	walk("", cfg.RootModule)
	return idx
}

// references returns the resources (as configuration addresses) that an argument of r
// refers to, e.g. the bucket an aws_s3_bucket_public_access_block belongs to.
func (p *envPlan) references(r resource, attr string) []string {
	c, ok := p.config[r.key()]
	if !ok {
		return nil
	}
	e := c.res.Expressions[attr]
	if e == nil || e.ExpressionData == nil {
		return nil
	}
	var out []string
	for _, ref := range e.References {
		parts := strings.Split(ref, ".")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], "aws_") {
			target := joinAddr(c.module, parts[0]+"."+stripKeys(parts[1]))
			if !slices.Contains(out, target) {
				out = append(out, target)
			}
		}
	}
	return out
}

// attachedTo returns the resources of a type whose bucket argument refers to bucket.
func (p *envPlan) attachedTo(bucket resource, typ string) []resource {
	var out []resource
	for _, r := range p.resources(typ) {
		if slices.Contains(p.references(r, "bucket"), bucket.key()) {
			out = append(out, r)
		}
	}
	return out
}

// byKey returns the planned instances of the resource with a configuration address.
func (p *envPlan) byKey(key string) []resource {
	parts := strings.Split(key, ".")
	if len(parts) < 2 {
		return nil
	}
	var out []resource
	for _, r := range p.resources(parts[len(parts)-2]) {
		if r.key() == key {
			out = append(out, r)
		}
	}
	return out
}

// availabilityZones returns the distinct zones of the subnets with the given Tier tag
// ("" for every subnet).
func (p *envPlan) availabilityZones(tier string) []string {
	var zones []string
	for _, s := range p.resources("aws_subnet") {
		tags, _ := s.after["tags"].(map[string]any)
		if tier != "" && tags["Tier"] != tier {
			continue
		}
		if az := s.str("availability_zone"); az != "" && !slices.Contains(zones, az) {
			zones = append(zones, az)
		}
	}
	slices.Sort(zones)
	return zones
}

// variable returns a root variable's value as the plan recorded it.
func variable(p *envPlan, name string) string {
	v, ok := p.plan.Variables[name]
	if !ok || v == nil {
		return ""
	}
	s, _ := v.Value.(string)
	return s
}

// anyStrings converts a decoded JSON list to strings, dropping other elements.
func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
