package atlantis

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"gopkg.in/yaml.v3"
)

// env is one environment of the output.
type env struct {
	name            string
	class           int // deploy class: dev-like, staging-like, prod-like, other
	projects        []*project
	rules           []string // how its projects were grouped, for its comment
	requireApproval bool
	branch          string
	workflow        string // the workflow every project uses, if one
}

// layoutMarkers are the dir segments whose next segment names the environment.
var layoutMarkers = map[string]bool{"env": true, "envs": true, "environment": true, "environments": true, "live": true, "stages": true}

// usualEnvNames are the dir segments that name an environment by themselves.
var usualEnvNames = map[string]bool{"dev": true, "development": true, "test": true, "qa": true, "staging": true, "stage": true,
	"uat": true, "preprod": true, "prod": true, "production": true}

// Deploy classes, in order.
const (
	classDev = iota
	classStaging
	classProd
	classOther
)

var envClasses = map[string]int{
	"dev": classDev, "development": classDev, "test": classDev, "testing": classDev, "qa": classDev, "sandbox": classDev,
	"staging": classStaging, "stage": classStaging, "stg": classStaging, "uat": classStaging, "preprod": classStaging, "pre-prod": classStaging,
	"prod": classProd, "production": classProd, "prd": classProd,
}

// envClass classes an environment by its name, else by its part before the first '-' or '_'.
func envClass(name string) int {
	if k, ok := envClasses[name]; ok {
		return k
	}
	if i := strings.IndexAny(name, "-_"); i > 0 {
		if k, ok := envClasses[name[:i]]; ok {
			return k
		}
	}
	return classOther
}

// envOf applies the grouping rule (see the package documentation) and says which part applied.
func envOf(p *project) (name, rule string) {
	segs := strings.Split(p.dir, "/")
	for i, s := range segs {
		if layoutMarkers[strings.ToLower(s)] && i+1 < len(segs) {
			return segs[i+1], "layout (the folder after " + s + "/)"
		}
	}
	if p.ws != config.DefaultWorkspace {
		return p.ws, "workspace"
	}
	for _, s := range segs {
		if usualEnvNames[strings.ToLower(s)] {
			return s, "name (a folder " + s + ")"
		}
	}
	return "default", "no rule (default)"
}

// sanitizeName makes s an environment or workflow name of .runner.yaml: lowercase letters, digits, '-' and
// '_', starting with a letter or digit, at most 63.
func sanitizeName(s, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	t := cutName(strings.TrimLeft(b.String(), "-_"), 63)
	if t == "" {
		return fallback
	}
	return t
}

func cutName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sanitizeProjectName makes s a project name of .runner.yaml (see config.ValidProjectName).
func sanitizeProjectName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if isAlnum(r) || strings.ContainsRune("._/-", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	t := b.String()
	for strings.Contains(t, "//") {
		t = strings.ReplaceAll(t, "//", "/")
	}
	for strings.Contains(t, "..") {
		t = strings.ReplaceAll(t, "..", ".")
	}
	t = cutProjectName(strings.TrimLeftFunc(t, func(r rune) bool { return !isAlnum(r) }), 128)
	if t == "" {
		return "project"
	}
	return t
}

func cutProjectName(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "/")
}

func isAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

var backendKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// live returns the projects that are not left out.
func (c *conv) live() []*project {
	var out []*project
	for _, p := range c.projects {
		if !p.out {
			out = append(out, p)
		}
	}
	return out
}

// resolveProjects leaves out projects that would share state, names the others, ties them to their
// workflows and gives them the workflows' var files and backend config.
func (c *conv) resolveProjects() {
	type stateKey struct{ dir, ws string }
	states := map[stateKey]*project{}
	for _, p := range c.live() {
		k := stateKey{p.dir, p.ws}
		if q := states[k]; q != nil {
			c.add(p.node, Invalid, p.path, "", "same dir (%s) and workspace (%s) as %s: in .runner.yaml they would share state (give one a workspace of its own): left out", p.dir, p.ws, q.path)
			p.out = true
			continue
		}
		states[k] = p
	}
	c.nameProjects()
	for _, p := range c.live() {
		if p.workflowRef == "" {
			continue
		}
		if w := c.wfByName[p.workflowRef]; w != nil {
			p.wf = w
			continue
		}
		c.add(p.wfNode, Unmapped, p.path+".workflow", flowScalar(p.workflowRef), "atlantis.yaml does not define this workflow "+
			"(a server-side one?): the project uses the runner's default workflow (init, plan; apply)")
	}
	users := map[*workflow][]*project{}
	for _, p := range c.live() {
		if p.wf != nil {
			users[p.wf] = append(users[p.wf], p)
		}
	}
	for _, w := range c.workflows {
		c.workflowFiles(w, users[w])
	}
	type backendKey struct{ bucket, key, ws string }
	backends := map[backendKey]*project{}
	for _, p := range c.live() {
		kv := map[string]string{}
		for _, b := range p.backend {
			if k, v, ok := strings.Cut(b, "="); ok && backendKeyRE.MatchString(k) {
				kv[k] = v
			}
		}
		key, ok := kv["key"]
		if !ok {
			continue
		}
		bk := backendKey{kv["bucket"], key, p.ws}
		if q := backends[bk]; q != nil {
			c.add(p.node, Invalid, p.path, "", "same backend key (%s) and workspace (%s) as %s: in .runner.yaml they would share state: left out", key, p.ws, q.name)
			p.out = true
			continue
		}
		backends[bk] = p
	}
}

// nameProjects gives every project its .runner.yaml name: its own, else its dir (plus the workspace).
func (c *conv) nameProjects() {
	taken := map[string]*project{}
	next := map[string]int{} // the next suffix to try per name, so that many equal names stay linear
	for _, p := range c.live() {
		raw := p.aname
		if raw == "" {
			raw = p.dir
			if raw == "." {
				raw = "root"
			}
			if p.ws != config.DefaultWorkspace {
				raw += "-" + p.ws
			}
		}
		name := raw
		if !config.ValidProjectName(name) {
			name = sanitizeProjectName(name)
		}
		base := name
		for taken[name] != nil {
			i := max(next[base], 2)
			next[base] = i + 1
			suffix := fmt.Sprintf("-%d", i)
			name = cutProjectName(base, 128-len(suffix)) + suffix
		}
		switch {
		case p.aname != "" && taken[base] != nil:
			c.add(p.nameNode, Invalid, p.path+".name", flowScalar(p.aname), "%s has this name already (Atlantis refuses that too): named %s", taken[base].path, name)
		case p.aname != "" && name != raw:
			c.add(p.nameNode, Invalid, p.path+".name", flowScalar(p.aname), "not a project name of .runner.yaml (letters, digits, '.', '_', '-', '/', "+
				"at most 128): named %s", name)
		case p.aname == "" && name != raw:
			c.add(p.node, Changed, p.path, "", "no name: named %s after its dir", name)
		}
		p.name = name
		taken[name] = p
	}
}

// workflowFiles gives a workflow's -var-file and -backend-config arguments to the projects using it, when
// every one of them can take them.
func (c *conv) workflowFiles(w *workflow, users []*project) {
	assign := func(values []string, at *yaml.Node, path, key string, ok func(dir, v string) bool, set func(p *project, v []string)) {
		if len(values) == 0 {
			return
		}
		if len(users) == 0 {
			c.add(at, Unmapped, path, flowList(values), "no project uses workflow %s, so no project gets these as %s", w.aname, key)
			return
		}
		if len(values) > maxListItems {
			c.add(at, Unmapped, path, flowList(values), "a project of .runner.yaml has at most %d %s", maxListItems, key)
			return
		}
		for _, p := range users {
			for _, v := range values {
				if !ok(p.dir, v) {
					c.add(at, Unmapped, path, flowList(values), "project %s (dir %s) cannot take %q as %s: it must be a path relative "+
						"to the project's dir, inside the repository", p.name, p.dir, v, key)
					return
				}
			}
		}
		cleaned := make([]string, len(values))
		for i, v := range values {
			cleaned[i] = cleanArg(v)
		}
		for _, p := range users {
			set(p, cleaned)
		}
		c.add(at, Changed, path, flowList(values), "mapped to %s of the projects using workflow %s: %s", key, w.aname, projectList(users))
	}
	assign(w.varFiles, w.varNode, w.varPath, "var_files", relFileOK, func(p *project, v []string) { p.varFiles = v })
	assign(w.backend, w.backendNode, w.backendPath, "backend_config", backendOK, func(p *project, v []string) { p.backend = v })
}

// relFileOK reports whether f, relative to dir, is a file .runner.yaml accepts: inside the repository.
func relFileOK(dir, f string) bool {
	if f == "" || path.IsAbs(f) || strings.ContainsAny(f, "\\\x00\n\r") {
		return false
	}
	_, ok := cleanRel(path.Join(dir, f))
	return ok
}

// backendOK reports whether b is a backend_config entry .runner.yaml accepts: key=value, or a file.
func backendOK(dir, b string) bool {
	if k, v, ok := strings.Cut(b, "="); ok && backendKeyRE.MatchString(k) {
		return !strings.ContainsAny(v, "\n\r\x00")
	}
	return relFileOK(dir, b)
}

// cleanArg cleans a file path the way .runner.yaml stores it, and leaves key=value entries as they are.
func cleanArg(v string) string {
	if k, _, ok := strings.Cut(v, "="); ok && backendKeyRE.MatchString(k) {
		return v
	}
	return path.Clean(v)
}

// projectList names projects for a note, shortened.
func projectList(ps []*project) string {
	var names []string
	for i, p := range ps {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		names = append(names, p.name)
	}
	return strings.Join(names, ", ")
}

// group puts the projects into environments, in deploy order, and works out what each environment sets.
func (c *conv) group() []*env {
	byName := map[string]*env{}
	var envs []*env
	renamed := map[string]bool{}
	for _, p := range c.live() {
		raw, rule := envOf(p)
		name := sanitizeName(raw, "default")
		if name != strings.ToLower(raw) && !renamed[raw] {
			renamed[raw] = true
			c.add(p.node, Changed, p.path, "", "environment %q (by the %s rule) is named %s: .runner.yaml's environment names are lowercase "+
				"letters, digits, '-' and '_' (at most 63)", raw, strings.SplitN(rule, " ", 2)[0], name)
		}
		e := byName[name]
		if e == nil {
			e = &env{name: name, class: envClass(name)}
			byName[name] = e
			envs = append(envs, e)
		}
		if len(e.projects) >= maxEnvProjects {
			c.add(p.node, Invalid, p.path, "", "environment %s has %d projects already, the most .runner.yaml allows in one: left out", name, maxEnvProjects)
			p.out = true
			continue
		}
		e.projects = append(e.projects, p)
		p.env = name
		if !contains(e.rules, rule) {
			e.rules = append(e.rules, rule)
		}
	}
	sort.SliceStable(envs, func(i, j int) bool {
		if envs[i].class != envs[j].class {
			return envs[i].class < envs[j].class
		}
		return envs[i].name < envs[j].name
	})
	for _, e := range envs {
		c.envSettings(e)
		c.dependencies(e)
	}
	c.crossEnvironmentOrder(envs)
	return envs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// envSettings works out an environment's require_approval, branch and workflow from its projects.
func (c *conv) envSettings(e *env) {
	var asked []*project
	for _, p := range e.projects {
		if len(p.approved) > 0 {
			asked = append(asked, p)
		}
	}
	if len(asked) > 0 {
		e.requireApproval = true
		if len(asked) < len(e.projects) {
			p := asked[0]
			c.add(p.approved[0].node, Changed, p.approved[0].path, "[approved]", "environment %s requires approval: that covers its %d projects, "+
				"where Atlantis required it for %d of them", e.name, len(e.projects), len(asked))
		}
	}

	branch, agree, named := "", true, false
	for i, p := range e.projects {
		if p.branchRaw != "" {
			named = true
		}
		if i == 0 {
			branch = p.branch
		}
		if p.branchRaw == "" || p.branch == "" || p.branch != branch {
			agree = false
		}
	}
	switch {
	case named && agree:
		e.branch = branch
		for _, p := range e.projects {
			if p.branchAnchored {
				continue
			}
			c.add(p.branchNode, Changed, p.path+".branch", flowScalar(p.branchRaw), "the regex is not anchored, so Atlantis matched every "+
				"branch containing %q; environment %s deploys from %s alone", branch, e.name, branch)
		}
	case named:
		for _, p := range e.projects {
			if p.branchRaw == "" {
				continue
			}
			why := fmt.Sprintf("the projects of environment %s do not all name this one branch", e.name)
			if p.branch == "" {
				why = "the regex does not name one branch"
			}
			c.add(p.branchNode, Unmapped, p.path+".branch", flowScalar(p.branchRaw), "%s: environment %s deploys from %s (the default)",
				why, e.name, config.EnvironmentDefaultBranch)
		}
	}

	var wf *workflow
	for i, p := range e.projects {
		if i == 0 {
			wf = p.wf
		} else if p.wf != wf {
			wf = nil
			break
		}
	}
	if wf != nil {
		e.workflow = wf.name
	}
}

// edge is one depends_on of the output, with where it came from.
type edge struct {
	to  *project
	dep *item  // the depends_on entry; nil for one from execution_order_group
	at  string // the depends_on entry's path
}

// dependencies turns execution_order_group and depends_on into the depends_on of an environment's projects.
func (c *conv) dependencies(e *env) {
	edges := map[*project][]edge{}
	linked := map[*project]map[*project]bool{} // whether edges[p] has one to q already
	link := func(p, q *project) {
		if linked[p] == nil {
			linked[p] = map[*project]bool{}
		}
		linked[p][q] = true
	}
	groups := map[int][]*project{}
	for _, p := range e.projects {
		groups[p.group] = append(groups[p.group], p)
	}
	order := make([]int, 0, len(groups))
	for g := range groups {
		order = append(order, g)
	}
	sort.Ints(order)
	for _, p := range e.projects {
		i := sort.SearchInts(order, p.group) // order[i] == p.group; order[i-1] is the nearest lower group
		if i == 0 {
			continue
		}
		lower := order[i-1]
		if len(groups[lower]) > maxListItems {
			c.add(p.groupNode, Unmapped, p.path+".execution_order_group", fmt.Sprint(p.group), "%d projects of environment %s are in group %d, "+
				"more than the %d a depends_on can list: the order after them is not mapped", len(groups[lower]), e.name, lower, maxListItems)
			continue
		}
		for _, q := range groups[lower] {
			edges[p] = append(edges[p], edge{to: q})
			link(p, q)
		}
	}
	for _, p := range e.projects {
		for i := range p.dependsOn {
			d := &p.dependsOn[i]
			at := fmt.Sprintf("%s.depends_on[%d]", p.path, i)
			q := c.byName[d.value]
			switch {
			case q == nil:
				c.add(d.node, Unmapped, at, flowScalar(d.value), "no project of atlantis.yaml has this name")
			case q.out:
				c.add(d.node, Unmapped, at, flowScalar(d.value), "%s is left out (see its note)", q.path)
			case q == p:
				c.add(d.node, Unmapped, at, flowScalar(d.value), "a project cannot depend on itself")
			case q.env != p.env:
				c.add(d.node, Unmapped, at, flowScalar(d.value), "%s is in environment %s, this project in %s: a depends_on stays within "+
					"an environment, and environments deploy in their order", q.name, q.env, p.env)
			case linked[p][q]:
				// execution_order_group orders them so already.
			default:
				edges[p] = append(edges[p], edge{to: q, dep: d, at: at})
				link(p, q)
			}
		}
	}
	c.breakCycles(e, edges)
	for _, p := range e.projects {
		seen := map[*project]bool{}
		var deps, extra []string
		for _, ed := range edges[p] {
			if seen[ed.to] {
				continue
			}
			seen[ed.to] = true
			if len(deps) == maxListItems {
				extra = append(extra, ed.to.name)
				continue
			}
			deps = append(deps, ed.to.name)
		}
		if len(extra) > 0 {
			c.add(p.node, Unmapped, p.path, flowList(extra), "a project of .runner.yaml has at most %d depends_on: it does not wait for these", maxListItems)
		}
		p.deps = deps
	}
}

// breakCycles drops the depends_on entries that close a cycle: those inside a strongly connected component
// of the dependency graph. The execution_order_group edges left inside one point to ever lower groups, so
// what remains has no cycle.
func (c *conv) breakCycles(e *env, edges map[*project][]edge) {
	index := map[*project]int{}
	low := map[*project]int{}
	onStack := map[*project]bool{}
	var stack []*project
	comp := map[*project]int{}
	n, ncomp := 0, 0
	var visit func(p *project)
	visit = func(p *project) {
		index[p], low[p] = n, n
		n++
		stack = append(stack, p)
		onStack[p] = true
		for _, ed := range edges[p] {
			q := ed.to
			if _, seen := index[q]; !seen {
				visit(q)
				low[p] = min(low[p], low[q])
			} else if onStack[q] {
				low[p] = min(low[p], index[q])
			}
		}
		if low[p] == index[p] {
			for {
				q := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[q] = false
				comp[q] = ncomp
				if q == p {
					break
				}
			}
			ncomp++
		}
	}
	for _, p := range e.projects {
		if _, seen := index[p]; !seen {
			visit(p)
		}
	}
	members := map[int][]string{}
	for _, p := range e.projects {
		members[comp[p]] = append(members[comp[p]], p.name)
	}
	for _, p := range e.projects {
		kept := edges[p][:0]
		for _, ed := range edges[p] {
			if ed.dep != nil && comp[ed.to] == comp[p] {
				c.add(ed.dep.node, Unmapped, ed.at, flowScalar(ed.dep.value), "it would close a dependency cycle among %s",
					strings.Join(members[comp[p]], ", "))
				continue
			}
			kept = append(kept, ed)
		}
		edges[p] = kept
	}
}

// crossEnvironmentOrder notes execution_order_groups that ordered projects across environments other than
// the environments' deploy order.
func (c *conv) crossEnvironmentOrder(envs []*env) {
	type extreme struct{ lo, hi *project }
	ext := make([]extreme, len(envs))
	for i, e := range envs {
		for _, p := range e.projects {
			if ext[i].lo == nil || p.group < ext[i].lo.group {
				ext[i].lo = p
			}
			if ext[i].hi == nil || p.group > ext[i].hi.group {
				ext[i].hi = p
			}
		}
	}
	for i := range envs {
		for j := i + 1; j < len(envs); j++ {
			hi, lo := ext[i].hi, ext[j].lo
			if hi == nil || lo == nil || hi.group <= lo.group {
				continue
			}
			at := hi.groupNode
			if at == nil {
				at = lo.groupNode
			}
			c.add(at, Changed, hi.path+".execution_order_group", fmt.Sprint(hi.group), "Atlantis ran %s (group %d) after %s (group %d); "+
				"here environment %s deploys before %s", hi.name, hi.group, lo.name, lo.group, envs[i].name, envs[j].name)
			break
		}
	}
}
