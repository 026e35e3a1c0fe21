package atlantis

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"gopkg.in/yaml.v3"
)

// step is one step of a .runner.yaml workflow.
type step struct {
	kind string // config.StepInit, ...
	run  string
	args []string
}

// workflow is one of atlantis.yaml's workflows, converted.
type workflow struct {
	aname   string // Atlantis name
	name    string // .runner.yaml name
	keyNode *yaml.Node
	path    string
	plan    []step
	apply   []step

	// -var-file and -backend-config arguments, which become var_files and backend_config of the projects
	// that use the workflow.
	varFiles    []string
	varNode     *yaml.Node
	varPath     string
	backend     []string
	backendNode *yaml.Node
	backendPath string

	dropped bool // left out of the output
}

// Reasons for steps that have no equivalent.
const (
	reasonShow     = "the runner shows every plan itself"
	reasonImport   = "the runner has no import or state rm commands"
	reasonEnv      = "the runner's run steps get the project's environment; a step cannot add variables to it"
	reasonMultienv = "the runner's run steps get the project's environment; a step cannot add variables to it"
	reasonRunOpt   = "the runner runs the command with /bin/sh -c and shows its output as it is"
)

func (c *conv) readWorkflows(p pair) {
	if isNull(p.val) {
		return
	}
	if resolve(p.val).Kind != yaml.MappingNode {
		c.add(p.key, Invalid, "workflows", flow(p.val), "workflows is a mapping of names to workflows: none is mapped")
		return
	}
	// In .runner.yaml a workflow named default replaces the default of every project that names none; in
	// atlantis.yaml it is only the workflow of the projects that name it. So that name is never given.
	used := map[string]bool{config.DefaultWorkflow: true}
	next := map[string]int{} // the next suffix to try per name, so that many equal names stay linear
	for _, kv := range pairs(p.val) {
		aname := kv.key.Value
		at := "workflows." + keyText(kv.key)
		base := sanitizeName(aname, "workflow")
		name := base
		for used[name] {
			i := max(next[base], 2)
			next[base] = i + 1
			suffix := fmt.Sprintf("-%d", i)
			name = cutName(base, 63-len(suffix)) + suffix
		}
		used[name] = true
		switch {
		case base == config.DefaultWorkflow:
			c.add(kv.key, Changed, at, "", "renamed %s: in .runner.yaml a workflow named default would be the workflow of every project "+
				"that names none", name)
		case name != aname:
			c.add(kv.key, Changed, at, "", "renamed %s: .runner.yaml's workflow names are lowercase letters, digits, '-' and '_' (at most 63)", name)
		}
		w := &workflow{aname: aname, name: name, keyNode: kv.key, path: at}
		c.convertWorkflow(w, kv)
		c.workflows = append(c.workflows, w)
		c.wfByName[aname] = w
	}
}

// phase builds one phase of a .runner.yaml workflow from Atlantis steps.
type phase struct {
	name                       string // "plan" or "apply"
	steps                      []step
	hasInit, hasPlan, hasApply bool
	pending                    []aStep // policy checks seen before plan: they go right after it
}

// aStep is one Atlantis step as read.
type aStep struct {
	name      string
	path      string
	node      *yaml.Node // for its line
	value     string     // the step in flow style, for notes
	extra     []string
	extraNode *yaml.Node
	cmd       string // of run and multienv
}

func (c *conv) convertWorkflow(w *workflow, kv pair) {
	w.plan = []step{{kind: config.StepInit}, {kind: config.StepPlan}}
	w.apply = []step{{kind: config.StepApply}}
	if isNull(kv.val) {
		return
	}
	if resolve(kv.val).Kind != yaml.MappingNode {
		c.add(kv.key, Invalid, w.path, flow(kv.val), "a workflow is a mapping (plan, apply): it keeps the default steps")
		return
	}
	var planStage, applyStage, policyStage *pair
	for _, s := range pairs(kv.val) {
		at := w.path + "." + keyText(s.key)
		switch s.key.Value {
		case "plan":
			planStage = &s
		case "apply":
			applyStage = &s
		case "policy_check":
			policyStage = &s
		case "import", "state_rm":
			c.add(s.key, Unmapped, at, flow(s.val), "%s", reasonImport)
		default:
			c.add(s.key, Unmapped, at, flow(s.val), "unknown workflow key (Atlantis would refuse the file)")
		}
	}
	if steps, given := c.stageSteps(planStage, w.path+".plan"); given {
		ph := &phase{name: "plan"}
		for i, n := range steps {
			if s, ok := c.readStep(n, fmt.Sprintf("%s.plan.steps[%d]", w.path, i)); ok {
				c.planStep(w, ph, s)
			}
		}
		c.finishPlan(w, ph, planStage.key)
		w.plan = ph.steps
	}
	if steps, given := c.stageSteps(policyStage, w.path+".policy_check"); given {
		c.add(policyStage.key, Changed, w.path+".policy_check", "", "its steps are added to the plan phase after plan: Atlantis ran this "+
			"stage only when its server had policy checks enabled, the runner runs them with every plan")
		ph := &phase{name: "plan", steps: w.plan, hasInit: true, hasPlan: true}
		for i, n := range steps {
			if s, ok := c.readStep(n, fmt.Sprintf("%s.policy_check.steps[%d]", w.path, i)); ok {
				c.policyStep(w, ph, s)
			}
		}
		w.plan = ph.steps
	}
	if steps, given := c.stageSteps(applyStage, w.path+".apply"); given {
		ph := &phase{name: "apply"}
		for i, n := range steps {
			if s, ok := c.readStep(n, fmt.Sprintf("%s.apply.steps[%d]", w.path, i)); ok {
				c.applyStep(w, ph, s)
			}
		}
		if !ph.hasApply {
			c.add(applyStage.key, Changed, w.path+".apply", "", "it has no apply step: one is added at its end (the runner applies the plan itself)")
			ph.steps = append(ph.steps, step{kind: config.StepApply})
		}
		w.apply = ph.steps
	}
	w.plan = c.capSteps(w.plan, w, "plan")
	w.apply = c.capSteps(w.apply, w, "apply")
}

// stageSteps returns a stage's step nodes; given is false when the stage keeps Atlantis's default steps
// (missing, empty, or without steps).
func (c *conv) stageSteps(s *pair, at string) (steps []*yaml.Node, given bool) {
	if s == nil || isNull(s.val) {
		return nil, false
	}
	if resolve(s.val).Kind != yaml.MappingNode {
		c.add(s.key, Invalid, at, flow(s.val), "a stage is a mapping with steps: it keeps the default steps")
		return nil, false
	}
	var list *pair
	for _, kv := range pairs(s.val) {
		if kv.key.Value == "steps" {
			list = &kv
			continue
		}
		c.add(kv.key, Unmapped, at+"."+keyText(kv.key), flow(kv.val), "unknown stage key (Atlantis would refuse the file)")
	}
	if list == nil || isNull(list.val) {
		return nil, false
	}
	if resolve(list.val).Kind != yaml.SequenceNode {
		c.add(list.key, Invalid, at+".steps", flow(list.val), "steps is a list: the stage keeps the default steps")
		return nil, false
	}
	return resolve(list.val).Content, true
}

// readStep reads an Atlantis step: a name (init), a name with extra_args (plan: {extra_args: [...]}), or a
// command (run: cmd, run: {command: cmd, ...}, env: {...}, multienv: cmd).
func (c *conv) readStep(n *yaml.Node, at string) (aStep, bool) {
	n = resolve(n)
	s := aStep{path: at, node: n, value: flow(n)}
	switch n.Kind {
	case yaml.ScalarNode:
		s.name = n.Value
		return s, true
	case yaml.MappingNode:
	default:
		c.add(n, Invalid, at, s.value, "a step is a name or a mapping with one key: left out")
		return s, false
	}
	kv := pairs(n)
	if len(kv) != 1 {
		c.add(n, Invalid, at, s.value, "a step is a mapping with one key: left out")
		return s, false
	}
	s.name, s.node = kv[0].key.Value, kv[0].key
	v := kv[0].val
	switch s.name {
	case "env":
		return s, true // not mapped whatever it holds
	case "run", "multienv":
		if cmd, ok := scalar(v); ok {
			s.cmd = cmd
			return s, true
		}
		if resolve(v).Kind != yaml.MappingNode {
			c.add(s.node, Invalid, at, s.value, "a %s step is a command: left out", s.name)
			return s, false
		}
		for _, o := range pairs(v) {
			oat := at + "." + keyText(s.node) + "." + keyText(o.key)
			switch o.key.Value {
			case "command":
				s.cmd, _ = scalar(o.val)
			case "output", "regex_filter", "shell", "shellArgs":
				c.add(o.key, Unmapped, oat, flow(o.val), "%s", reasonRunOpt)
			default:
				c.add(o.key, Unmapped, oat, flow(o.val), "unknown %s option (Atlantis would refuse the file)", s.name)
			}
		}
		return s, true
	}
	if isNull(v) {
		return s, true
	}
	if resolve(v).Kind != yaml.MappingNode {
		c.add(s.node, Invalid, at, s.value, "a %s step takes extra_args: left out", s.name)
		return s, false
	}
	for _, o := range pairs(v) {
		oat := at + "." + keyText(s.node) + "." + keyText(o.key)
		if o.key.Value != "extra_args" {
			c.add(o.key, Unmapped, oat, flow(o.val), "unknown step option (Atlantis would refuse the file)")
			continue
		}
		items, ok := stringItems(o.val)
		if !ok {
			c.add(o.key, Invalid, oat, flow(o.val), "extra_args is a list of arguments: not mapped")
			continue
		}
		s.extraNode = o.key
		for _, it := range items {
			// Atlantis joins the arguments into one command line, so "-var-file x" is two of them.
			s.extra = append(s.extra, strings.Fields(it.value)...)
		}
	}
	return s, true
}

// planStep adds one step of Atlantis's plan stage to the plan phase.
func (c *conv) planStep(w *workflow, ph *phase, s aStep) {
	switch s.name {
	case "init":
		switch {
		case ph.hasPlan:
			c.add(s.node, Unmapped, s.path, s.value, "init after plan: .runner.yaml's init comes before plan")
		case ph.hasInit:
			c.add(s.node, Unmapped, s.path, s.value, "a second init step: .runner.yaml's plan phase has one")
		default:
			c.initArgs(w, s)
			ph.steps = append(ph.steps, step{kind: config.StepInit})
			ph.hasInit = true
		}
	case "plan":
		if ph.hasPlan {
			c.add(s.node, Unmapped, s.path, s.value, "a second plan step: the runner makes one plan")
			return
		}
		c.planArgs(w, s)
		ph.steps = append(ph.steps, step{kind: config.StepPlan})
		ph.hasPlan = true
		for _, p := range ph.pending {
			c.add(p.node, Changed, p.path, p.value, "moved after plan: the runner's policy step checks the plan")
			ph.steps = append(ph.steps, step{kind: config.StepPolicy})
		}
		ph.pending = nil
	case "policy_check":
		c.noArgs(s, "the runner's policy step takes no arguments")
		if !ph.hasPlan {
			ph.pending = append(ph.pending, s)
			return
		}
		ph.steps = append(ph.steps, step{kind: config.StepPolicy})
	case "apply":
		c.add(s.node, Unmapped, s.path, s.value, "the runner applies in the apply phase, after merge")
	case "run":
		c.runStep(w, ph, s)
	default:
		c.otherStep(s)
	}
}

// finishPlan adds the plan step (and init) a plan phase needs.
func (c *conv) finishPlan(w *workflow, ph *phase, at *yaml.Node) {
	if !ph.hasPlan {
		if !ph.hasInit {
			ph.steps = append(ph.steps, step{kind: config.StepInit})
			ph.hasInit = true
		}
		c.add(at, Changed, w.path+".plan", "", "it has no plan step (Atlantis allows that): one is added at its end, since the runner makes the plan itself")
		ph.steps = append(ph.steps, step{kind: config.StepPlan})
		for _, p := range ph.pending {
			c.add(p.node, Changed, p.path, p.value, "moved after plan: the runner's policy step checks the plan")
			ph.steps = append(ph.steps, step{kind: config.StepPolicy})
		}
		ph.pending = nil
		ph.hasPlan = true
		return
	}
	if !ph.hasInit {
		c.add(at, Changed, w.path+".plan", "", "it has no init step: one is added before plan, since the runner plans in a fresh checkout")
		for i, s := range ph.steps {
			if s.kind == config.StepPlan {
				ph.steps = append(ph.steps[:i], append([]step{{kind: config.StepInit}}, ph.steps[i:]...)...)
				break
			}
		}
		ph.hasInit = true
	}
}

// policyStep adds one step of Atlantis's policy_check stage to the plan phase, after plan.
func (c *conv) policyStep(w *workflow, ph *phase, s aStep) {
	switch s.name {
	case "policy_check":
		c.noArgs(s, "the runner's policy step takes no arguments")
		ph.steps = append(ph.steps, step{kind: config.StepPolicy})
	case "run":
		c.runStep(w, ph, s)
	case "init", "plan", "apply":
		c.add(s.node, Unmapped, s.path, s.value, "the plan phase has its %s step already", s.name)
	default:
		c.otherStep(s)
	}
}

// applyStep adds one step of Atlantis's apply stage to the apply phase.
func (c *conv) applyStep(w *workflow, ph *phase, s aStep) {
	switch s.name {
	case "apply":
		if ph.hasApply {
			c.add(s.node, Unmapped, s.path, s.value, "a second apply step: the runner applies once")
			return
		}
		c.applyArgs(s)
		ph.steps = append(ph.steps, step{kind: config.StepApply})
		ph.hasApply = true
	case "init", "plan", "policy_check":
		c.add(s.node, Unmapped, s.path, s.value, ".runner.yaml's apply phase cannot hold %s steps (they belong to the plan phase)", s.name)
	case "run":
		c.runStep(w, ph, s)
	default:
		c.otherStep(s)
	}
}

// otherStep reports the steps no phase maps.
func (c *conv) otherStep(s aStep) {
	switch s.name {
	case "show":
		c.add(s.node, Unmapped, s.path, s.value, "%s", reasonShow)
	case "import", "state_rm":
		c.add(s.node, Unmapped, s.path, s.value, "%s", reasonImport)
	case "env":
		c.add(s.node, Unmapped, s.path, s.value, "%s", reasonEnv)
	case "multienv":
		c.add(s.node, Unmapped, s.path, s.value, "%s", reasonMultienv)
	default:
		c.add(s.node, Invalid, s.path, s.value, "unknown step (Atlantis would refuse the file): left out")
	}
}

func (c *conv) noArgs(s aStep, why string) {
	if len(s.extra) > 0 {
		c.add(s.extraNode, Unmapped, s.path+"."+s.name+".extra_args", flowList(s.extra), "%s", why)
	}
}

// runStep maps a run step: a tflint command becomes a tflint step, a terraform/tofu/terragrunt init, plan,
// apply or show is replaced by the runner's own step, any other command stays a run step.
func (c *conv) runStep(w *workflow, ph *phase, s aStep) {
	cmd := s.cmd
	switch {
	case strings.TrimSpace(cmd) == "":
		c.add(s.node, Invalid, s.path, s.value, "a run step needs a command: left out")
		return
	case len(cmd) > maxRunLength || strings.ContainsRune(cmd, 0):
		c.add(s.node, Unmapped, s.path, "", "a run command of .runner.yaml has at most %d bytes", maxRunLength)
		return
	}
	if tool, sub, ok := terraformCommand(cmd); ok {
		why := fmt.Sprintf("runs %s %s itself: ", tool, sub)
		switch {
		case sub == "show":
			c.add(s.node, Unmapped, s.path, s.value, "%sdropped, %s", why, reasonShow)
			return
		case ph.name == "plan" && (sub == "init" || sub == "plan"), ph.name == "apply" && sub == "apply":
			// Taken as the built-in step: it is added, or refused (a second plan...) with the built-in's reason.
			steps, notes := len(ph.steps), len(c.notes)
			builtin := aStep{name: sub, path: s.path, node: s.node, value: s.value}
			if ph.name == "plan" {
				c.planStep(w, ph, builtin)
			} else {
				c.applyStep(w, ph, builtin)
			}
			if len(ph.steps) == steps {
				if len(c.notes) > notes {
					c.notes[notes].Msg = why + c.notes[notes].Msg
				}
				return
			}
			c.add(s.node, Unmapped, s.path, s.value, "%sreplaced by the runner's %s step (the runner runs Terraform itself; "+
				"the command's flags and Atlantis's variables do not carry over)%s", why, sub, terragruntNote(tool))
			return
		}
	}
	if args, ok := tflintArgs(cmd); ok {
		ph.steps = append(ph.steps, step{kind: config.StepTFLint, args: args})
		return
	}
	if vars := atlantisVarRE.FindAllStringSubmatch(cmd, -1); len(vars) > 0 {
		var names []string
		seen := map[string]bool{}
		for _, m := range vars {
			if !seen[m[1]] {
				names = append(names, "$"+m[1])
				seen[m[1]] = true
			}
		}
		c.add(s.node, Unmapped, s.path, flowList(names), "Atlantis sets these variables for run steps, the runner does not: "+
			"the step is kept, check it")
	}
	ph.steps = append(ph.steps, step{kind: config.StepRun, run: cmd})
}

// terragruntNote warns that replacing terragrunt is no like-for-like swap.
func terragruntNote(tool string) string {
	if tool != "terragrunt" {
		return ""
	}
	return "; the runner does not run terragrunt: a folder with only a terragrunt.hcl has no Terraform for it to plan"
}

// atlantisVarRE finds the variables Atlantis gives run steps that the runner does not (it sets PLANFILE and
// SHOWFILE after the plan, WORKSPACE, DIR, PROJECT_NAME, PULL_NUM and HEAD_COMMIT as Atlantis does).
var atlantisVarRE = regexp.MustCompile(`\$\{?(POLICYCHECKFILE|REPO_REL_DIR|` +
	`BASE_REPO_NAME|BASE_REPO_OWNER|HEAD_REPO_NAME|HEAD_REPO_OWNER|HEAD_BRANCH_NAME|BASE_BRANCH_NAME|` +
	`PULL_URL|PULL_AUTHOR|USER_NAME|COMMENT_ARGS|OUTPUT_STATUS_FILE|ATLANTIS_[A-Z0-9_]+)\b`)

var envAssignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// terraformCommand recognises a simple command (no ;, &&, |, `...`, $(...)) that runs terraform, tofu or
// terragrunt init, plan, apply or show.
func terraformCommand(cmd string) (tool, sub string, ok bool) {
	if strings.ContainsAny(cmd, ";|&`\n") || strings.Contains(cmd, "$(") {
		return "", "", false
	}
	words := strings.Fields(cmd)
	for len(words) > 0 && envAssignRE.MatchString(words[0]) {
		words = words[1:]
	}
	if len(words) < 2 {
		return "", "", false
	}
	tool = path.Base(words[0])
	if tool != "terraform" && tool != "tofu" && tool != "terragrunt" {
		return "", "", false
	}
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "-") || w == "run-all" || w == "run" {
			continue
		}
		switch w {
		case "init", "plan", "apply", "show":
			return tool, w, true
		}
		return "", "", false
	}
	return "", "", false
}

// tflintArgs returns the arguments of a command that is tflint with plain arguments (no shell syntax, no
// variables), which a tflint step passes as they are.
func tflintArgs(cmd string) ([]string, bool) {
	words, ok := shellWords(cmd)
	if !ok || len(words) == 0 || path.Base(words[0]) != "tflint" || len(words)-1 > maxListItems {
		return nil, false
	}
	return words[1:], true
}

// shellWords splits a command line made of plain words and quoted strings; ok is false for anything the
// shell would expand or interpret.
func shellWords(s string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 || strings.ContainsAny(s[i+1:i+1+end], "$`\\") {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case strings.IndexByte("\\$`;&|<>()*?[]{}~#!\n\r\x00", ch) >= 0:
			return nil, false
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	for _, w := range words {
		if strings.ContainsAny(w, "\x00\n\r") {
			return nil, false
		}
	}
	return words, true
}

// flagValues takes the values of -name (as -name=v, --name=v or -name v) out of Terraform arguments.
func flagValues(args []string, name string) (values, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case !strings.HasPrefix(a, "-"):
		case strings.HasPrefix(bare, name+"="):
			values = append(values, strings.TrimPrefix(bare, name+"="))
			continue
		case bare == name && i+1 < len(args):
			values = append(values, args[i+1])
			i++
			continue
		}
		rest = append(rest, a)
	}
	return values, rest
}

func (c *conv) initArgs(w *workflow, s aStep) {
	backend, rest := flagValues(s.extra, "backend-config")
	if len(backend) > 0 {
		w.backend = append(w.backend, backend...)
		if w.backendNode == nil {
			w.backendNode, w.backendPath = s.extraNode, s.path+".init.extra_args"
		}
	}
	if len(rest) > 0 {
		c.add(s.extraNode, Unmapped, s.path+".init.extra_args", flowList(rest), "the runner runs terraform init with flags of its own")
	}
}

func (c *conv) planArgs(w *workflow, s aStep) {
	vars, rest := flagValues(s.extra, "var-file")
	if len(vars) > 0 {
		w.varFiles = append(w.varFiles, vars...)
		if w.varNode == nil {
			w.varNode, w.varPath = s.extraNode, s.path+".plan.extra_args"
		}
	}
	if len(rest) > 0 {
		hint := ""
		if v, _ := flagValues(rest, "var"); len(v) > 0 {
			hint = " (a -var input can go in the project's vars)"
		}
		c.add(s.extraNode, Unmapped, s.path+".plan.extra_args", flowList(rest), "the runner runs terraform plan with flags of its own%s", hint)
	}
}

func (c *conv) applyArgs(s aStep) {
	vars, rest := flagValues(s.extra, "var-file")
	if len(vars) > 0 {
		c.add(s.extraNode, Unmapped, s.path+".apply.extra_args", flowList(vars), "-var-file on apply: the runner applies the saved plan, which holds the variables")
	}
	if len(rest) > 0 {
		c.add(s.extraNode, Unmapped, s.path+".apply.extra_args", flowList(rest), "the runner runs terraform apply with flags of its own")
	}
}

// capSteps keeps a phase within .runner.yaml's step limit, dropping its last optional steps.
func (c *conv) capSteps(steps []step, w *workflow, name string) []step {
	dropped := 0
	for i := len(steps) - 1; i >= 0 && len(steps) > maxListItems; i-- {
		if k := steps[i].kind; k != config.StepInit && k != config.StepPlan && k != config.StepApply {
			steps = append(steps[:i], steps[i+1:]...)
			dropped++
		}
	}
	if dropped > 0 {
		c.add(w.keyNode, Unmapped, w.path+"."+name, "", "%d steps past .runner.yaml's %d per phase", dropped, maxListItems)
	}
	return steps
}
