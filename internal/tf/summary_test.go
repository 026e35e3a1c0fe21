package tf

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func rc(addr string, actions ...tfjson.Action) *tfjson.ResourceChange {
	return &tfjson.ResourceChange{Address: addr, Change: &tfjson.Change{Actions: actions}}
}

func TestSummarizeResources(t *testing.T) {
	const (
		create = tfjson.ActionCreate
		del    = tfjson.ActionDelete
		update = tfjson.ActionUpdate
		read   = tfjson.ActionRead
		noop   = tfjson.ActionNoop
		forget = tfjson.ActionForget
	)
	withReason := func(r *tfjson.ResourceChange, reason tfjson.ActionReason) *tfjson.ResourceChange {
		r.ActionReason = reason
		return r
	}
	imported := rc("aws_s3_bucket.imported", noop)
	imported.Change.Importing = &tfjson.Importing{ID: "bucket"}
	moved := rc("module.new.terraform_data.x", noop)
	moved.PreviousAddress = "module.old.terraform_data.x"
	deposed := rc("terraform_data.cbd", del)
	deposed.DeposedKey = "00000001"

	tests := []struct {
		name          string
		changes       []*tfjson.ResourceChange
		wantCounts    [4]int // add, change, destroy, replace
		wantNoChanges bool
		wantResources []ResourceChange
	}{
		{
			name:          "empty plan",
			wantNoChanges: true,
			wantResources: []ResourceChange{},
		},
		{
			name:          "no-op resources are not changes",
			changes:       []*tfjson.ResourceChange{rc("terraform_data.a", noop), rc("terraform_data.b", noop)},
			wantNoChanges: true,
			wantResources: []ResourceChange{},
		},
		{
			name: "each action counted once, replacements in either order only as replace",
			changes: []*tfjson.ResourceChange{
				rc("c.create", create), rc("u.update", update), rc("d.delete", del),
				withReason(rc("r.destroy_first", del, create), tfjson.ActionReasonReplaceBecauseCannotUpdate),
				rc("r.create_first", create, del),
			},
			wantCounts: [4]int{1, 1, 1, 2},
			wantResources: []ResourceChange{
				{"c.create", ActionCreate, ""}, {"d.delete", ActionDelete, ""},
				{"r.create_first", ActionReplace, ""}, {"r.destroy_first", ActionReplace, "replace_because_cannot_update"},
				{"u.update", ActionUpdate, ""},
			},
		},
		{
			name:          "reads are listed but are not changes",
			changes:       []*tfjson.ResourceChange{withReason(rc("data.x.y", read), "read_because_config_unknown")},
			wantNoChanges: true,
			wantResources: []ResourceChange{{"data.x.y", ActionRead, "read_because_config_unknown"}},
		},
		{
			name:          "forget, import and move are changes without a count",
			changes:       []*tfjson.ResourceChange{rc("terraform_data.f", forget), imported, moved},
			wantResources: []ResourceChange{{"aws_s3_bucket.imported", ActionImport, ""}, {"module.new.terraform_data.x", ActionMove, "moved from module.old.terraform_data.x"}, {"terraform_data.f", ActionForget, ""}},
		},
		{
			name:          "deposed object",
			changes:       []*tfjson.ResourceChange{deposed},
			wantCounts:    [4]int{0, 0, 1, 0},
			wantResources: []ResourceChange{{"terraform_data.cbd", ActionDelete, "deposed object 00000001"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize("dev", &tfjson.Plan{ResourceChanges: tt.changes})
			if got := [4]int{s.Add, s.Change, s.Destroy, s.Replace}; got != tt.wantCounts {
				t.Errorf("counts = %v, want %v", got, tt.wantCounts)
			}
			if s.NoChanges != tt.wantNoChanges {
				t.Errorf("NoChanges = %v, want %v", s.NoChanges, tt.wantNoChanges)
			}
			if fmt.Sprint(s.Resources) != fmt.Sprint(tt.wantResources) {
				t.Errorf("resources =\n%v\nwant\n%v", s.Resources, tt.wantResources)
			}
		})
	}
}

func TestSummarizeOutputs(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name   string
		change *tfjson.Change
		plan   func(*tfjson.Plan) // adds flags outside the change
		want   *OutputChange      // nil: not listed
	}{
		{
			name:   "no-op output not listed",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionNoop}, Before: "a", After: "a"},
		},
		{
			name:   "update shows both values as JSON",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: "a", After: []interface{}{"b", json.Number("2")}},
			want:   &OutputChange{Action: ActionUpdate, Before: `"a"`, After: `["b",2]`},
		},
		{
			name:   "create has no before, unknown after",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, AfterUnknown: true},
			want:   &OutputChange{Action: ActionCreate, After: UnknownValue},
		},
		{
			name:   "partly unknown value is unknown",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: "x", After: map[string]interface{}{"a": "1"}, AfterUnknown: map[string]interface{}{"b": true}},
			want:   &OutputChange{Action: ActionUpdate, Before: `"x"`, After: UnknownValue},
		},
		{
			name:   "delete has no after",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionDelete}, Before: true},
			want:   &OutputChange{Action: ActionDelete, Before: "true"},
		},
		{
			name:   "sensitive after",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: secret, After: secret + "2", AfterSensitive: true},
			want:   &OutputChange{Action: ActionUpdate, Sensitive: true, Before: SensitiveValue, After: SensitiveValue},
		},
		{
			name:   "sensitive before only hides both sides",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: secret, After: "public", BeforeSensitive: true},
			want:   &OutputChange{Action: ActionUpdate, Sensitive: true, Before: SensitiveValue, After: SensitiveValue},
		},
		{
			name: "nested sensitive attribute hides the whole value",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate},
				After:          map[string]interface{}{"user": "app", "password": secret},
				AfterSensitive: map[string]interface{}{"password": true}},
			want: &OutputChange{Action: ActionCreate, Sensitive: true, After: SensitiveValue},
		},
		{
			name: "nested in a list",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate},
				After: []interface{}{"a", secret}, AfterSensitive: []interface{}{false, true}},
			want: &OutputChange{Action: ActionCreate, Sensitive: true, After: SensitiveValue},
		},
		{
			name:   "declared sensitive in planned values without marks",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: secret},
			plan: func(p *tfjson.Plan) {
				p.PlannedValues = &tfjson.StateValues{Outputs: map[string]*tfjson.StateOutput{"out": {Sensitive: true}}}
			},
			want: &OutputChange{Action: ActionCreate, Sensitive: true, After: SensitiveValue},
		},
		{
			name:   "declared sensitive in configuration without marks",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: secret},
			plan: func(p *tfjson.Plan) {
				p.Config = &tfjson.Config{RootModule: &tfjson.ConfigModule{Outputs: map[string]*tfjson.ConfigOutput{"out": {Sensitive: true}}}}
			},
			want: &OutputChange{Action: ActionCreate, Sensitive: true, After: SensitiveValue},
		},
		{
			name:   "long value truncated",
			change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: strings.Repeat("a", 300)},
			want:   &OutputChange{Action: ActionCreate, After: `"` + strings.Repeat("a", maxValueLen-1) + "…"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &tfjson.Plan{OutputChanges: map[string]*tfjson.Change{"out": tt.change}}
			if tt.plan != nil {
				tt.plan(p)
			}
			s := Summarize("dev", p)
			if tt.want == nil {
				if len(s.Outputs) != 0 || !s.NoChanges {
					t.Errorf("outputs = %+v, NoChanges = %v; want none", s.Outputs, s.NoChanges)
				}
				return
			}
			tt.want.Name = "out"
			if len(s.Outputs) != 1 || s.Outputs[0] != *tt.want {
				t.Fatalf("outputs = %+v, want %+v", s.Outputs, *tt.want)
			}
			if s.NoChanges {
				t.Errorf("an output change must not be NoChanges")
			}
			b, _ := json.Marshal(s)
			for _, text := range []string{s.Markdown(), s.Text(), string(b)} {
				if strings.Contains(text, secret) {
					t.Errorf("secret leaked:\n%s", text)
				}
			}
		})
	}
}

func TestSummarizeNilPlan(t *testing.T) {
	s := Summarize("dev", nil)
	if !s.NoChanges || s.Resources == nil {
		t.Errorf("nil plan: %+v", s)
	}
}

func TestMarkdown(t *testing.T) {
	many := &tfjson.Plan{}
	for i := range maxMarkdownItems + 5 {
		many.ResourceChanges = append(many.ResourceChanges, rc(fmt.Sprintf("terraform_data.n[%03d]", i), tfjson.ActionCreate))
	}
	tests := []struct {
		name    string
		plan    *tfjson.Plan
		want    []string
		notWant []string
	}{
		{
			name:    "no changes",
			plan:    &tfjson.Plan{},
			want:    []string{"No changes. Infrastructure matches the configuration.\n"},
			notWant: []string{"WARNING", "Plan:"},
		},
		{
			name: "destroys and replacements warned about first",
			plan: &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
				rc("a.create", tfjson.ActionCreate), rc("b.gone", tfjson.ActionDelete), rc("c.new", tfjson.ActionDelete, tfjson.ActionCreate),
			}},
			want: []string{
				"> [!WARNING]\n> This plan **destroys 1 resource and replaces 1 resource**.",
				"**Plan:** 1 to add, 0 to change, 1 to destroy, 1 to replace.",
				"#### Destroy (1)\n\n- `b.gone`\n",
				"#### Replace (1)\n\n- `c.new`\n",
				"#### Create (1)\n\n- `a.create`\n",
			},
		},
		{
			name:    "additions only: no warning",
			plan:    &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("a.create", tfjson.ActionCreate)}},
			notWant: []string{"WARNING"},
		},
		{
			name: "addresses with backticks and pipes stay inside code spans",
			plan: &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{rc("x.y[\"a`b|c\"]", tfjson.ActionCreate)}},
			want: []string{"- ``x.y[\"a`b|c\"]``\n"},
		},
		{
			name: "long lists are cut for PR comments",
			plan: many,
			want: []string{"#### Create (105)", "- `terraform_data.n[099]`\n- …and 5 more\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := Summarize("dev", tt.plan).Markdown()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q:\n%s", w, md)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(md, w) {
					t.Errorf("markdown has %q:\n%s", w, md)
				}
			}
		})
	}
	if txt := Summarize("dev", many).Text(); strings.Contains(txt, "more") || !strings.Contains(txt, "terraform_data.n[104]") {
		t.Errorf("the CLI text must list every resource")
	}
}
