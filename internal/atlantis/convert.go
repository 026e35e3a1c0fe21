package atlantis

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"gopkg.in/yaml.v3"
)

// Bounds on the input: atlantis.yaml comes from a checkout, and converting it must stay quick whatever it holds.
const (
	MaxFileSize = 1 << 20
	MaxProjects = 5000
	// maxNodes bounds the YAML nodes a conversion visits, aliases expanded: a small file can alias a list into
	// itself many times over.
	maxNodes = 1 << 21
)

// Limits of .runner.yaml (internal/config) that the output keeps to.
const (
	maxEnvProjects = 1000
	maxListItems   = 100
	maxRunLength   = 4096
)

// Kind says what a Note reports.
type Kind string

// Kinds of notes.
const (
	Unmapped Kind = "not mapped" // no equivalent in .runner.yaml: left out
	Invalid  Kind = "error"      // .runner.yaml cannot hold it as written: renamed or left out, as the note says
	Changed  Kind = "note"       // mapped, with a difference worth reading
	Warning  Kind = "warning"
)

// Note is one thing the conversion reports about a key or value of atlantis.yaml.
type Note struct {
	Line  int    // in atlantis.yaml
	Path  string // the key: "projects[2].apply_requirements" (indexes count from 0)
	Value string // the value concerned, in YAML flow style ("" when the key says enough)
	Kind  Kind
	Msg   string
}

// Format gives the note as one line, the way compilers do: "atlantis.yaml:12: projects[2].apply_requirements
// [mergeable]: not mapped: ...".
func (n Note) Format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if n.Line > 0 {
		fmt.Fprintf(&b, ":%d", n.Line)
	}
	b.WriteString(": " + n.Path)
	if n.Value != "" {
		b.WriteString(" " + n.Value)
	}
	fmt.Fprintf(&b, ": %s: %s", n.Kind, n.Msg)
	return b.String()
}

// Error is a problem that stops the conversion: the input is not an atlantis.yaml that can be read.
type Error struct {
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Result is a conversion's output.
type Result struct {
	Config       []byte // the .runner.yaml, which config.ParseRepo accepts
	Notes        []Note // in file order
	Environments int
	Projects     int // projects in Config
}

// Count returns how many notes are of kind k.
func (r *Result) Count(k Kind) int {
	n := 0
	for _, x := range r.Notes {
		if x.Kind == k {
			n++
		}
	}
	return n
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Convert reads an Atlantis repo config and returns the equivalent .runner.yaml with the notes on what did
// not carry over. The error, an *Error, means the input could not be read as an atlantis.yaml at all.
func Convert(data []byte) (*Result, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{Msg: fmt.Sprintf("the file is %d bytes, more than the %d allowed", len(data), MaxFileSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "the file is empty (an atlantis.yaml needs at least version: 3)"}
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &Error{Line: next.Line, Msg: "more than one YAML document"}
	}
	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = resolve(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Line: root.Line, Msg: "the top level must be a mapping"}
	}
	if n := countNodes(root, map[*yaml.Node]int{}); n > maxNodes {
		return nil, &Error{Msg: fmt.Sprintf("the file expands to more than %d YAML nodes (aliases)", maxNodes)}
	}
	if k, dup := duplicateKey(root, map[*yaml.Node]bool{}); dup {
		return nil, &Error{Line: k.Line, Msg: fmt.Sprintf("key %q is given twice in one mapping", k.Value)}
	}
	c := &conv{wfByName: map[string]*workflow{}, byName: map[string]*project{}, wmNote: -1}
	if err := c.top(root); err != nil {
		return nil, err
	}
	if c.wmOthers > 0 {
		c.notes[c.wmNote].Msg += fmt.Sprintf(" (the same holds for %d other project(s))", c.wmOthers)
	}
	c.resolveProjects()
	envs := c.group()
	out := c.emit(envs)
	if len(out) > config.RepoMaxFileSize {
		// Only a file made to be large gets here: workflows no project uses are what can go without a loss.
		c.dropUnusedWorkflows()
		out = c.emit(envs)
	}
	if len(out) > config.RepoMaxFileSize {
		return nil, &Error{Msg: fmt.Sprintf("the converted configuration would be %d bytes, more than the %d .runner.yaml may have", len(out), config.RepoMaxFileSize)}
	}
	// The output must never be a file the runner refuses: anything that would make it so was to be left out
	// above, so a failure here is a bug, reported rather than printed.
	if _, err := config.ParseRepo(out); err != nil {
		return nil, &Error{Msg: fmt.Sprintf("the converted configuration does not parse (a bug of runner import): %v", err)}
	}
	sort.SliceStable(c.notes, func(i, j int) bool { return c.notes[i].Line < c.notes[j].Line })
	res := &Result{Config: out, Notes: c.notes, Environments: len(envs)}
	for _, e := range envs {
		res.Projects += len(e.projects)
	}
	return res, nil
}

// dropUnusedWorkflows leaves out the workflows no project of the output uses.
func (c *conv) dropUnusedWorkflows() {
	used := map[*workflow]bool{}
	for _, p := range c.live() {
		used[p.wf] = true
	}
	for _, w := range c.workflows {
		if !used[w] {
			w.dropped = true
			c.add(w.keyNode, Unmapped, w.path, "", "no project uses this workflow, and with it .runner.yaml would be more than %d bytes", config.RepoMaxFileSize)
		}
	}
}

func yamlError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{Msg: "invalid YAML: " + msg}
}

// conv holds one conversion's state.
type conv struct {
	notes     []Note
	projects  []*project // every entry of projects, left out ones too
	workflows []*workflow
	wfByName  map[string]*workflow // by Atlantis name
	byName    map[string]*project  // by Atlantis name: the first project of that name
	wmNote    int                  // index of the note on when_modified, -1 before it
	wmOthers  int                  // other projects that note is about
}

func (c *conv) add(at *yaml.Node, kind Kind, path, value, format string, args ...any) {
	line := 0
	if at != nil {
		line = at.Line
	}
	c.notes = append(c.notes, Note{Line: line, Path: path, Value: value, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// Reasons for keys that have no equivalent, shared by the top level and projects.
const (
	reasonDeleteBranch = "the runner never deletes branches: GitHub's \"Automatically delete head branches\" setting does it on merge"
	reasonRepoLocks    = "the runner takes one lock per environment while it deploys it, not a lock per project or directory at plan time"
	reasonSilence      = "the runner's pull request comments are switched for the whole repository (notify.github.comments), not per command"
	reasonRequirement  = "who may apply, and when, is the runner's server policy (RUNNER_REPOS_CONFIG), which .runner.yaml can only tighten; " +
		"and the runner applies after merge, from the deploy branch, not from the pull request"
)

// topReasons are the top-level keys that have no equivalent, with why.
var topReasons = map[string]string{
	"automerge":    "the runner deploys on merge; it never merges pull requests",
	"autodiscover": "the runner discovers environments/* only when .runner.yaml lists no environments; Atlantis's discovery of every Terraform folder has no equivalent",
	"parallel_plan": "the runner orders the projects of an environment by depends_on and runs those that do not depend on each other " +
		"as it sees fit; there is no switch",
	"parallel_apply": "the runner orders the projects of an environment by depends_on and runs those that do not depend on each other " +
		"as it sees fit; there is no switch",
	"abort_on_execution_order_fail": "the runner has no such switch: a project waits for the projects it depends on, which execution_order_group became",
	"delete_source_branch_on_merge": reasonDeleteBranch,
	"allowed_regexp_prefixes":       "the runner has no regexp comment commands: /runner plan names environments",
	"emoji_reaction":                "the runner reacts to comment commands with emoji of its own",
	"repo_locks":                    reasonRepoLocks,
	"silence_pr_comments":           reasonSilence,
	"policies":                      "policy sets belong to the runner's server; a workflow's policy step can name repository folders of rego files (policy: {paths: [...]})",
}

// top reads the top-level mapping: version first, workflows before the projects that name them.
func (c *conv) top(root *yaml.Node) error {
	kv := pairs(root)
	var version *pair
	for i := range kv {
		if kv[i].key.Value == "version" {
			version = &kv[i]
		}
	}
	if version == nil {
		return &Error{Line: root.Line, Msg: "version is missing: an atlantis.yaml says version: 3"}
	}
	switch v := resolve(version.val); {
	case v.Kind == yaml.ScalarNode && v.Value == "3":
	case v.Kind == yaml.ScalarNode && v.Value == "2":
		c.add(version.key, Warning, "version", "2", "read as version 3: version 2 parsed run commands with shell escaping, "+
			"version 3 and the runner pass them to sh -c as written: check run steps that escape quotes")
	default:
		return &Error{Line: version.key.Line, Msg: fmt.Sprintf("version %s: only versions 3 (and 2) of atlantis.yaml can be read", flow(v))}
	}
	for _, p := range kv {
		if p.key.Value == "workflows" {
			c.readWorkflows(p)
		}
	}
	for _, p := range kv {
		key := p.key.Value
		switch key {
		case "version", "workflows":
		case "projects":
			if err := c.readProjects(p); err != nil {
				return err
			}
		default:
			if reason, ok := topReasons[key]; ok {
				c.add(p.key, Unmapped, key, flow(p.val), "%s", reason)
			} else {
				c.add(p.key, Unmapped, keyText(p.key), flow(p.val), "unknown key (Atlantis would refuse the file)")
			}
		}
	}
	return nil
}
