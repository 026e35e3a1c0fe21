package atlantis

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/gitops-runner/runner/internal/config"
	"gopkg.in/yaml.v3"
)

// project is one entry of atlantis.yaml's projects, as read, then as converted.
type project struct {
	path string     // "projects[3]"
	node *yaml.Node // the entry, for its line

	aname    string     // Atlantis name; "" when none
	nameNode *yaml.Node // the name's key, when given
	dir      string     // cleaned; "" when missing or unusable
	dirNode  *yaml.Node
	ws       string // workspace
	wsNode   *yaml.Node

	tfVersion      string
	wm             *pair // autoplan.when_modified, read once dir is known
	wmPath         string
	whenModified   []string
	workflowRef    string // the Atlantis workflow it names; "" for the default
	wfNode         *yaml.Node
	dependsOn      []item
	group          int // execution_order_group (0 when unset, as in Atlantis)
	groupNode      *yaml.Node
	branch         string // the branch its branch regex names; "" when none or not one
	branchNode     *yaml.Node
	branchRaw      string // the regex as written
	branchAnchored bool   // ^...$: the regex matched that branch alone
	approved       []approval

	// Filled by the conversion.
	out      bool      // left out of .runner.yaml
	name     string    // in .runner.yaml
	wf       *workflow // nil: the default workflow
	varFiles []string
	backend  []string
	env      string
	deps     []string
}

// approval is an approved requirement, where it was.
type approval struct {
	node *yaml.Node
	path string
}

// projectReasons are the project keys that have no equivalent, with why.
var projectReasons = map[string]string{
	"delete_source_branch_on_merge": reasonDeleteBranch,
	"repo_locking":                  reasonRepoLocks,
	"repo_locks":                    reasonRepoLocks,
	"custom_policy_check":           "the runner checks plans with the policy steps of a workflow (Open Policy Agent), not with a custom command's output",
	"policy_check":                  "policy checks are a policy step in the project's workflow ({policy: {}} after plan)",
	"silence_pr_comments":           reasonSilence,
	"terraform_distribution":        "the runner runs the Terraform binary its server is given (RUNNER_TERRAFORM_BIN), which can be OpenTofu's",
	"glob_file_match":               "it belongs to dir globs, which are not mapped",
}

var (
	workspaceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,89}$`)
	tfVersionRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$`)
)

func (c *conv) readProjects(p pair) error {
	if isNull(p.val) {
		return nil
	}
	list := resolve(p.val)
	if list.Kind != yaml.SequenceNode {
		c.add(p.key, Invalid, "projects", flow(list), "projects is a list: no project is mapped")
		return nil
	}
	if len(list.Content) > MaxProjects {
		return &Error{Line: p.key.Line, Msg: fmt.Sprintf("%d projects, more than the %d allowed", len(list.Content), MaxProjects)}
	}
	for i, n := range list.Content {
		c.readProject(fmt.Sprintf("projects[%d]", i), resolve(n))
	}
	return nil
}

func (c *conv) readProject(at string, n *yaml.Node) {
	p := &project{path: at, node: n, ws: config.DefaultWorkspace}
	c.projects = append(c.projects, p)
	if n.Kind != yaml.MappingNode {
		c.add(n, Invalid, at, flow(n), "a project is a mapping: left out")
		p.out = true
		return
	}
	var dirGiven bool
	for _, kv := range pairs(n) {
		key, v := kv.key.Value, kv.val
		path := at + "." + keyText(kv.key)
		if reason, ok := projectReasons[key]; ok {
			c.add(kv.key, Unmapped, path, flow(v), "%s", reason)
			continue
		}
		switch key {
		case "name":
			s, ok := scalar(v)
			if !ok {
				c.add(kv.key, Invalid, path, flow(v), "a name is a string: not mapped")
				continue
			}
			if s == "" {
				c.add(kv.key, Invalid, path, `""`, "an empty name (Atlantis refuses it): the project is named after its dir")
				continue
			}
			p.aname, p.nameNode = s, kv.key
			if c.byName[s] == nil {
				c.byName[s] = p
			}
		case "dir":
			dirGiven = true
			p.dirNode = kv.key
			c.readDir(p, kv, path)
		case "workspace":
			s, ok := scalar(v)
			if !ok {
				c.add(kv.key, Invalid, path, flow(v), "a workspace is a string: the project is left out")
				p.out = true
				continue
			}
			if s != "" {
				p.ws, p.wsNode = s, kv.key
			}
			if !workspaceRE.MatchString(p.ws) {
				c.add(kv.key, Invalid, path, flow(v), "the runner's workspaces are letters, digits, '.', '_' and '-' (at most 90), "+
					"and renaming one would lose its state: the project is left out")
				p.out = true
			}
		case "terraform_version":
			s, ok := scalar(v)
			switch {
			case ok && tfVersionRE.MatchString(s):
				p.tfVersion = strings.TrimPrefix(s, "v")
			case ok && s == "":
			default:
				c.add(kv.key, Unmapped, path, flow(v), "the runner needs an exact version such as 1.5.7; without one the project uses the server's default")
			}
		case "autoplan":
			c.readAutoplan(p, kv, path)
		case "apply_requirements", "plan_requirements", "import_requirements":
			c.readRequirements(p, kv, path)
		case "workflow":
			s, ok := scalar(v)
			if !ok {
				c.add(kv.key, Invalid, path, flow(v), "a workflow is a name: the project uses the default workflow")
				continue
			}
			p.workflowRef, p.wfNode = s, kv.key
		case "depends_on":
			items, ok := stringItems(v)
			if !ok {
				c.add(kv.key, Invalid, path, flow(v), "depends_on is a list of project names: not mapped")
				continue
			}
			p.dependsOn = items
		case "execution_order_group":
			g, ok := integer(v)
			if !ok {
				c.add(kv.key, Invalid, path, flow(v), "execution_order_group is a whole number: not mapped")
				continue
			}
			p.group, p.groupNode = g, kv.key
		case "branch":
			c.readBranch(p, kv, path)
		default:
			c.add(kv.key, Unmapped, path, flow(v), "unknown project key (Atlantis would refuse the file)")
		}
	}
	if !dirGiven {
		c.add(n, Invalid, at, "", "dir is required: the project is left out")
		p.out = true
	}
	if p.wm != nil && !p.out {
		c.readWhenModified(p, *p.wm, p.wmPath)
	}
}

// readDir cleans dir as Atlantis does ("./" + dir, cleaned), and leaves the project out when .runner.yaml
// cannot hold it.
func (c *conv) readDir(p *project, kv pair, at string) {
	s, ok := scalar(kv.val)
	why := ""
	switch {
	case !ok || s == "":
		why = "dir is a folder of the repository"
	case strings.Contains(s, ".."):
		why = "dir must not contain '..' (Atlantis refuses it too)"
	case strings.ContainsAny(s, "*?["):
		why = "Atlantis expands dir globs into projects at plan time; list the folders as projects"
	case strings.ContainsAny(s, "\\\x00\n\r"):
		why = "dir must use forward slashes and no control characters"
	}
	if why == "" {
		d := path.Clean("./" + s)
		if d == ".git" || strings.HasPrefix(d, ".git/") {
			why = "dir is inside .git"
		} else {
			p.dir = d
			return
		}
	}
	c.add(kv.key, Invalid, at, flow(kv.val), "%s: the project is left out", why)
	p.out = true
}

func (c *conv) readAutoplan(p *project, kv pair, at string) {
	if isNull(kv.val) {
		return
	}
	if resolve(kv.val).Kind != yaml.MappingNode {
		c.add(kv.key, Invalid, at, flow(kv.val), "autoplan is a mapping: not mapped")
		return
	}
	for _, a := range pairs(kv.val) {
		path := at + "." + keyText(a.key)
		switch a.key.Value {
		case "enabled":
			on, ok := boolean(a.val)
			switch {
			case !ok:
				c.add(a.key, Invalid, path, flow(a.val), "enabled is true or false: not mapped")
			case !on:
				c.add(a.key, Unmapped, path, "false", "no equivalent: the runner plans every project a pull request affects "+
					"(and /runner plan names environments)")
			}
		case "when_modified":
			p.wm, p.wmPath = &a, path // its globs are relative to dir, which may come later
		default:
			c.add(a.key, Unmapped, path, flow(a.val), "unknown autoplan key (Atlantis would refuse the file)")
		}
	}
}

func (c *conv) readWhenModified(p *project, kv pair, at string) {
	items, ok := stringItems(kv.val)
	if !ok {
		c.add(kv.key, Invalid, at, flow(kv.val), "when_modified is a list of globs: not mapped")
		return
	}
	var bad []string
	for i, it := range items {
		g := it.value
		switch {
		case i >= maxListItems:
			c.add(it.node, Unmapped, fmt.Sprintf("%s[%d]", at, i), flowScalar(g), "a project of .runner.yaml has at most %d when_modified globs", maxListItems)
			continue
		case strings.HasPrefix(g, "!"):
			c.add(it.node, Unmapped, fmt.Sprintf("%s[%d]", at, i), flowScalar(g), "the runner's when_modified cannot exclude files")
			continue
		case !validGlob(p.dir, g):
			bad = append(bad, g)
			continue
		}
		p.whenModified = append(p.whenModified, g)
	}
	if len(bad) > 0 {
		c.add(kv.key, Unmapped, at, flowList(bad), "not a glob relative to the project's dir inside the repository")
	}
	// One note says it for every project: the same difference, repeated per project, would bury the rest.
	if c.wmNote < 0 {
		c.wmNote = len(c.notes)
		c.add(kv.key, Changed, at, "", "mapped as extra when_modified globs: Atlantis planned the project only when these matched, "+
			"the runner also plans it whenever its own files or the local modules it calls change")
	} else {
		c.wmOthers++
	}
}

// validGlob reports whether g, relative to dir, is a glob .runner.yaml accepts: inside the repository.
func validGlob(dir, g string) bool {
	if g == "" || strings.HasPrefix(g, "/") || strings.ContainsAny(g, "\\\x00\n\r") {
		return false
	}
	j, ok := cleanRel(path.Join(dir, g))
	return ok && doublestar.ValidatePattern(j)
}

// cleanRel cleans a repository-relative path and reports whether it stays inside the repository and out of
// .git, as .runner.yaml requires.
func cleanRel(p string) (string, bool) {
	if strings.Contains(p, "\\") || strings.ContainsRune(p, 0) || path.IsAbs(p) {
		return "", false
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") || c == ".git" || strings.HasPrefix(c, ".git/") {
		return "", false
	}
	return c, true
}

func (c *conv) readRequirements(p *project, kv pair, at string) {
	items, ok := stringItems(kv.val)
	if !ok {
		c.add(kv.key, Invalid, at, flow(kv.val), "requirements are a list (approved, mergeable, undiverged): not mapped")
		return
	}
	var policy, unknown []string
	for _, it := range items {
		switch it.value {
		case "approved":
			p.approved = append(p.approved, approval{it.node, at})
			switch kv.key.Value {
			case "plan_requirements":
				c.add(it.node, Changed, at, "[approved]", "mapped to the environment's require_approval: the runner plans every pull "+
					"request, and a deploy waits for an approval before it applies")
			case "import_requirements":
				c.add(it.node, Changed, at, "[approved]", "mapped to the environment's require_approval (the runner has no import "+
					"command): a deploy waits for an approval before it applies")
			}
		case "mergeable", "undiverged":
			policy = append(policy, it.value)
		default:
			unknown = append(unknown, it.value)
		}
	}
	if len(policy) > 0 {
		c.add(kv.key, Unmapped, at, flowList(policy), "%s", reasonRequirement)
	}
	if len(unknown) > 0 {
		c.add(kv.key, Invalid, at, flowList(unknown), "unknown requirement (Atlantis knows approved, mergeable and undiverged): not mapped")
	}
}

var literalBranchRE = regexp.MustCompile(`^(\^?)((?:[^\\.+*?()|\[\]{}^$]|\\[.\-/_])+)(\$?)$`)

// readBranch reads Atlantis's branch regex (/re/, matched against the pull request's base branch): one that
// names a single branch can become the environment's deploy branch.
func (c *conv) readBranch(p *project, kv pair, at string) {
	s, ok := scalar(kv.val)
	if !ok || len(s) < 2 || !strings.HasPrefix(s, "/") || !strings.HasSuffix(s, "/") {
		c.add(kv.key, Invalid, at, flow(kv.val), "branch is a regex between slashes (/main/): not mapped")
		return
	}
	p.branchRaw, p.branchNode = s, kv.key
	m := literalBranchRE.FindStringSubmatch(s[1 : len(s)-1])
	if m == nil {
		return // not one branch: reported with the environment, which can have one branch only
	}
	name := strings.NewReplacer(`\.`, ".", `\-`, "-", `\/`, "/", `\_`, "_").Replace(m[2])
	if !config.ValidBranch(name) {
		return
	}
	p.branch, p.branchAnchored = name, m[1] != "" && m[3] != ""
}
