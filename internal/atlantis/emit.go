package atlantis

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"gopkg.in/yaml.v3"
)

// header opens every converted file: where it came from and the grouping rule, which decides the most.
const header = `# .runner.yaml converted by "runner import" from an Atlantis repo config (atlantis.yaml, version 3).
# Review it, and every line "runner import" printed on stderr, before committing it.
#
# Projects are grouped into environments by the first rule that applies to the project:
#   1. layout: the folder after an env, envs, environment, environments, live or stages folder of its dir
#      (environments/prod/us-east-1/network is in prod);
#   2. workspace: its workspace, when it is not default;
#   3. name: a folder of its dir named dev, development, test, qa, staging, stage, uat, preprod, prod or production;
#   4. otherwise the environment "default".
# Environments deploy in order: dev-like, staging-like, prod-like, then the others; by name within each.
# Approvals and who may apply are the runner's server policy (RUNNER_REPOS_CONFIG), which this file can only tighten.
`

// emit writes the .runner.yaml: keys in a fixed, readable order (name, dir, workspace, ...).
func (c *conv) emit(envs []*env) []byte {
	root := &yaml.Node{Kind: yaml.MappingNode}
	if len(envs) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode}
		for i, e := range envs {
			list.Content = append(list.Content, emitEnv(e, i+1))
		}
		set(root, "environments", list)
	} else {
		root.HeadComment = "No projects: the runner discovers environments from environments/*, as without .runner.yaml."
	}
	wfs := &yaml.Node{Kind: yaml.MappingNode}
	for _, w := range c.workflows {
		if !w.dropped {
			m := &yaml.Node{Kind: yaml.MappingNode}
			set(m, "plan", phaseNode(w.plan))
			set(m, "apply", phaseNode(w.apply))
			set(wfs, w.name, m)
		}
	}
	if len(wfs.Content) > 0 {
		set(root, "workflows", wfs)
	}
	apps := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	set(root, "apps", apps)
	root.Content[len(root.Content)-2].HeadComment = "Atlantis builds no apps; without this key the runner would build apps/backend and apps/frontend where they exist."

	var buf bytes.Buffer
	buf.WriteString(header)
	buf.WriteString("\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// Encoding nodes built here from strings cannot fail; were it to, ParseRepo of the output reports it.
	_ = enc.Encode(root)
	_ = enc.Close()
	return buf.Bytes()
}

func emitEnv(e *env, order int) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	m.HeadComment = fmt.Sprintf("%s: %d project(s), grouped by %s", e.name, len(e.projects), strings.Join(e.rules, "; "))
	set(m, "name", str(e.name))
	set(m, "order", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(order)})
	if e.requireApproval {
		set(m, "require_approval", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if e.branch != "" {
		set(m, "branch", str(e.branch))
	}
	if e.workflow != "" {
		set(m, "workflow", str(e.workflow))
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, p := range e.projects {
		list.Content = append(list.Content, emitProject(p, e))
	}
	set(m, "projects", list)
	return m
}

func emitProject(p *project, e *env) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	set(m, "name", str(p.name))
	set(m, "dir", str(p.dir))
	if p.ws != config.DefaultWorkspace {
		set(m, "workspace", str(p.ws))
	}
	if len(p.varFiles) > 0 {
		set(m, "var_files", strList(p.varFiles))
	}
	if len(p.backend) > 0 {
		set(m, "backend_config", strList(p.backend))
	}
	if p.tfVersion != "" {
		set(m, "terraform_version", str(p.tfVersion))
	}
	if len(p.whenModified) > 0 {
		set(m, "when_modified", strList(p.whenModified))
	}
	if len(p.deps) > 0 {
		set(m, "depends_on", strList(p.deps))
	}
	if p.wf != nil && p.wf.name != e.workflow {
		set(m, "workflow", str(p.wf.name))
	}
	return m
}

func phaseNode(steps []step) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range steps {
		switch {
		case s.kind == config.StepRun:
			m := &yaml.Node{Kind: yaml.MappingNode}
			set(m, config.StepRun, str(s.run))
			list.Content = append(list.Content, m)
		case s.kind == config.StepTFLint && len(s.args) > 0:
			args := &yaml.Node{Kind: yaml.MappingNode}
			set(args, "args", strList(s.args))
			m := &yaml.Node{Kind: yaml.MappingNode}
			set(m, config.StepTFLint, args)
			list.Content = append(list.Content, m)
		default:
			list.Content = append(list.Content, str(s.kind))
		}
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	set(m, "steps", list)
	return m
}

func set(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func strList(values []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range values {
		n.Content = append(n.Content, str(v))
	}
	return n
}
