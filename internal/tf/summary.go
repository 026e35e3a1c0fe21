package tf

import (
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	tfjson "github.com/hashicorp/terraform-json"
)

// Actions of ResourceChange and OutputChange.
const (
	ActionCreate  = "create"
	ActionUpdate  = "update"
	ActionDelete  = "delete"
	ActionReplace = "replace" // delete then create, or create then delete (create_before_destroy)
	ActionRead    = "read"    // data source read during apply: listed, never counted, not a change
	ActionForget  = "forget"  // removed from state without being destroyed
	ActionImport  = "import"  // imported into state, otherwise unchanged
	ActionMove    = "move"    // moved to a new address, otherwise unchanged
)

// Placeholders shown instead of an output value.
const (
	SensitiveValue = "(sensitive)"
	UnknownValue   = "(known after apply)"
)

// maxValueLen bounds an output value shown in a summary; the full value is in the plan.
const maxValueLen = 200

// Summary is what a plan does to one environment, derived from the plan's JSON form.
// Add, Change, Destroy and Replace are disjoint: a replacement counts only in Replace (Terraform's own
// "N to add, N to destroy" counts it in both). Reads, forgets, imports and moves are listed in
// Resources but not counted; only reads leave NoChanges true.
type Summary struct {
	Environment string           `json:"environment"`
	Add         int              `json:"add"`
	Change      int              `json:"change"`
	Destroy     int              `json:"destroy"`
	Replace     int              `json:"replace"`
	Resources   []ResourceChange `json:"resources"`
	Outputs     []OutputChange   `json:"outputs,omitempty"`
	NoChanges   bool             `json:"no_changes"`
	// Drift is what changed outside Terraform since the last apply, found by the plan's refresh.
	Drift []DriftedResource `json:"drift,omitempty"`
}

// ResourceChange is one resource instance the plan acts on.
type ResourceChange struct {
	Address string `json:"address"`
	Action  string `json:"action"`
	// Reason is Terraform's action_reason (e.g. replace_because_cannot_update,
	// delete_because_count_index), "deposed object <key>" or "moved from <address>"; empty when none.
	Reason string `json:"reason,omitempty"`
}

// OutputChange is one root module output whose value changes. Before and After are JSON-encoded values,
// SensitiveValue when either side is sensitive, UnknownValue when not known until apply, and empty
// when the output is created (Before) or deleted (After).
type OutputChange struct {
	Name      string `json:"name"`
	Action    string `json:"action"`
	Sensitive bool   `json:"sensitive"`
	Before    string `json:"before,omitempty"`
	After     string `json:"after,omitempty"`
}

// Summarize reads p (from Workspace.Show) into a Summary for environment env.
func Summarize(env string, p *tfjson.Plan) Summary {
	s := Summary{Environment: env, Resources: []ResourceChange{}}
	if p == nil {
		s.NoChanges = true
		return s
	}
	changes := 0
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		r, ok := resourceChange(rc)
		if !ok {
			continue
		}
		switch r.Action {
		case ActionCreate:
			s.Add++
		case ActionUpdate:
			s.Change++
		case ActionDelete:
			s.Destroy++
		case ActionReplace:
			s.Replace++
		}
		if r.Action != ActionRead {
			changes++
		}
		s.Resources = append(s.Resources, r)
	}
	sort.SliceStable(s.Resources, func(i, j int) bool { return s.Resources[i].Address < s.Resources[j].Address })

	names := make([]string, 0, len(p.OutputChanges))
	for name := range p.OutputChanges {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if o, ok := outputChange(p, name, p.OutputChanges[name]); ok {
			s.Outputs = append(s.Outputs, o)
		}
	}
	s.NoChanges = changes == 0 && len(s.Outputs) == 0
	s.Drift = drift(p)
	return s
}

func resourceChange(rc *tfjson.ResourceChange) (ResourceChange, bool) {
	a := rc.Change.Actions
	r := ResourceChange{Address: rc.Address, Reason: string(rc.ActionReason)}
	switch {
	case a.Replace():
		r.Action = ActionReplace
	case a.Create():
		r.Action = ActionCreate
	case a.Update():
		r.Action = ActionUpdate
	case a.Delete():
		r.Action = ActionDelete
	case a.Read():
		r.Action = ActionRead
	case a.Forget():
		r.Action = ActionForget
	case a.NoOp() && rc.Change.Importing != nil:
		r.Action = ActionImport
	case a.NoOp() && rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address:
		r.Action = ActionMove
	default:
		return r, false
	}
	if r.Reason == "" && rc.DeposedKey != "" {
		r.Reason = "deposed object " + rc.DeposedKey
	}
	if r.Reason == "" && rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address {
		r.Reason = "moved from " + rc.PreviousAddress
	}
	return r, true
}

func outputChange(p *tfjson.Plan, name string, c *tfjson.Change) (OutputChange, bool) {
	if c == nil {
		return OutputChange{}, false
	}
	o := OutputChange{Name: name}
	switch {
	case c.Actions.Create():
		o.Action = ActionCreate
	case c.Actions.Update():
		o.Action = ActionUpdate
	case c.Actions.Delete():
		o.Action = ActionDelete
	default:
		return o, false // no-op
	}
	o.Sensitive = anyTrue(c.BeforeSensitive) || anyTrue(c.AfterSensitive) || declaredSensitive(p, name)
	if o.Action != ActionCreate {
		o.Before = showValue(c.Before, o.Sensitive, false)
	}
	if o.Action != ActionDelete {
		o.After = showValue(c.After, o.Sensitive, anyTrue(c.AfterUnknown))
	}
	return o, true
}

// declaredSensitive reports the output's own sensitive flag from the planned values or the
// configuration, in case a plan's per-value sensitivity marks are missing.
func declaredSensitive(p *tfjson.Plan, name string) bool {
	if p.PlannedValues != nil {
		if o := p.PlannedValues.Outputs[name]; o != nil && o.Sensitive {
			return true
		}
	}
	if p.Config != nil && p.Config.RootModule != nil {
		if o := p.Config.RootModule.Outputs[name]; o != nil && o.Sensitive {
			return true
		}
	}
	return false
}

// anyTrue reports whether a sensitivity or unknown-ness mark (true, or an object or list of marks)
// marks anything.
func anyTrue(v interface{}) bool {
	switch v := v.(type) {
	case bool:
		return v
	case map[string]interface{}:
		for _, e := range v {
			if anyTrue(e) {
				return true
			}
		}
	case []interface{}:
		for _, e := range v {
			if anyTrue(e) {
				return true
			}
		}
	}
	return false
}

func showValue(v interface{}, sensitive, unknown bool) string {
	switch {
	case sensitive:
		return SensitiveValue
	case unknown:
		return UnknownValue
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "(unprintable)"
	}
	s := string(b)
	if utf8.RuneCountInString(s) > maxValueLen {
		r := []rune(s)
		s = string(r[:maxValueLen]) + "…"
	}
	return strings.ToValidUTF8(s, "�")
}
