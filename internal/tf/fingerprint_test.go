package tf

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// planJSON decodes a hand-written plan holding the given resource_changes entries, numbers as float64
// (json.Unmarshal's way) or as json.Number (Workspace.Show's way).
func planJSON(t *testing.T, jsonNumber bool, changes ...string) *tfjson.Plan {
	t.Helper()
	var p tfjson.Plan
	p.UseJSONNumber(jsonNumber)
	doc := `{"format_version": "1.2", "resource_changes": [` + strings.Join(changes, ",") + `]}`
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("plan %s: %v", doc, err)
	}
	return &p
}

// change is one resource_changes entry.
func change(address, actions, after, afterUnknown string) string {
	return `{"address": "` + address + `", "mode": "managed", "change": {"actions": ` + actions +
		`, "before": null, "after": ` + after + `, "after_unknown": ` + afterUnknown + `}}`
}

func TestFingerprintLists(t *testing.T) {
	deposed := `{"address": "aws_instance.web", "deposed": "00000001", "change": {"actions": ["delete"], "before": {"id": "i-1"}, "after": null, "after_unknown": {}}}`
	p := planJSON(t, true,
		change("terraform_data.z", `["create"]`, `{"input": "z"}`, `{"id": true, "output": true}`),
		change("aws_instance.web", `["create","delete"]`, `{"ami": "ami-2"}`, `{"id": true}`),
		deposed,
		change("aws_s3_bucket.old", `["delete"]`, `null`, `false`),
		change("aws_s3_bucket.same", `["no-op"]`, `{"bucket": "b"}`, `{}`),
		`{"address": "data.aws_caller_identity.me", "mode": "data", "change": {"actions": ["read"], "before": null, "after": {}, "after_unknown": {"id": true}}}`,
		change("aws_s3_bucket.kept", `["forget"]`, `null`, `false`),
		change("aws_iam_role.r", `["update"]`, `{"name": "r"}`, `{}`),
		change("aws_iam_role.s", `["delete","create"]`, `{"name": "s"}`, `{"arn": true}`),
	)
	got := Fingerprint(p)
	type row struct{ address, actions string }
	want := []row{
		{"aws_iam_role.r", "update"},
		{"aws_iam_role.s", "delete,create"},
		{"aws_instance.web", "create,delete"},
		{"aws_instance.web (deposed 00000001)", "delete"},
		{"aws_s3_bucket.kept", "forget"},
		{"aws_s3_bucket.old", "delete"},
		{"terraform_data.z", "create"},
	}
	if len(got) != len(want) {
		t.Fatalf("Fingerprint = %+v, want %d changes", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Address != w.address || g.Actions != w.actions {
			t.Errorf("change %d = %s %s, want %s %s", i, g.Address, g.Actions, w.address, w.actions)
		}
		noValue := w.actions == "delete" || w.actions == "forget"
		if noValue != (g.Hash == "") || (!noValue && len(g.Hash) != 64) {
			t.Errorf("%s %s: hash %q", g.Address, g.Actions, g.Hash)
		}
	}
	if fps := Fingerprint(nil); fps == nil || len(fps) != 0 {
		t.Errorf("Fingerprint(nil) = %#v, want an empty list", fps)
	}
}

func TestFingerprintCompares(t *testing.T) {
	const create = `["create"]`
	bucket := func(after, unknown string) string { return change("aws_s3_bucket.b", create, after, unknown) }
	other := change("aws_sqs_queue.q", create, `{"name": "q"}`, `{"arn": true}`)
	tests := []struct {
		name     string
		reviewed []string
		applied  []string
		same     bool
	}{
		{"same plan", []string{bucket(`{"bucket": "b", "tags": {"a": "1"}}`, `{"id": true}`), other},
			[]string{bucket(`{"bucket": "b", "tags": {"a": "1"}}`, `{"id": true}`), other}, true},
		{"order of changes irrelevant", []string{bucket(`{"bucket": "b"}`, `{}`), other},
			[]string{other, bucket(`{"bucket": "b"}`, `{}`)}, true},
		{"order of keys irrelevant", []string{bucket(`{"bucket": "b", "acl": "private"}`, `{}`)},
			[]string{bucket(`{"acl": "private", "bucket": "b"}`, `{}`)}, true},
		{"changed value", []string{bucket(`{"bucket": "b", "tags": {"a": "1"}}`, `{}`)},
			[]string{bucket(`{"bucket": "b", "tags": {"a": "2"}}`, `{}`)}, false},
		{"changed nested list value", []string{bucket(`{"rules": [{"days": 30}]}`, `{}`)},
			[]string{bucket(`{"rules": [{"days": 31}]}`, `{}`)}, false},
		{"added attribute", []string{bucket(`{"bucket": "b"}`, `{}`)},
			[]string{bucket(`{"bucket": "b", "policy": "{}"}`, `{}`)}, false},
		{"known null is a value", []string{bucket(`{"bucket": "b"}`, `{}`)},
			[]string{bucket(`{"bucket": "b", "policy": null}`, `{}`)}, false},
		{"changed actions", []string{bucket(`{"bucket": "b"}`, `{}`)},
			[]string{change("aws_s3_bucket.b", `["delete","create"]`, `{"bucket": "b"}`, `{}`)}, false},
		{"unknown in both, whatever the placeholder", []string{bucket(`{"bucket": "b", "arn": "x"}`, `{"arn": true}`)},
			[]string{bucket(`{"bucket": "b", "arn": "y"}`, `{"arn": true}`)}, true},
		{"unknown in both, absent", []string{bucket(`{"bucket": "b"}`, `{"arn": true, "id": true}`)},
			[]string{bucket(`{"bucket": "b", "id": null}`, `{"arn": true, "id": true}`)}, true},
		{"unknown nested attribute in both", []string{bucket(`{"tags": {"a": "1", "owner": "x"}}`, `{"tags": {"owner": true}}`)},
			[]string{bucket(`{"tags": {"a": "1"}}`, `{"tags": {"owner": true}}`)}, true},
		{"unknown list element in both", []string{bucket(`{"ips": ["10.0.0.1", null]}`, `{"ips": [false, true]}`)},
			[]string{bucket(`{"ips": ["10.0.0.1", "10.0.0.9"]}`, `{"ips": [false, true]}`)}, true},
		{"whole value unknown in both", []string{bucket(`{"ips": ["a"]}`, `{"ips": true}`)},
			[]string{bucket(`{"ips": ["b", "c"]}`, `{"ips": true}`)}, true},
		{"known in review, unknown now", []string{bucket(`{"bucket": "b", "arn": "arn:x"}`, `{}`)},
			[]string{bucket(`{"bucket": "b"}`, `{"arn": true}`)}, false},
		{"unknown list element differs from known null", []string{bucket(`{"ips": [null]}`, `{"ips": [true]}`)},
			[]string{bucket(`{"ips": [null]}`, `{"ips": [false]}`)}, false},
		{"unknown list element keeps the others in place", []string{bucket(`{"ips": [null, "a"]}`, `{"ips": [true]}`)},
			[]string{bucket(`{"ips": ["a", null]}`, `{"ips": [false, true]}`)}, false},
		{"1 and 1.0 alike", []string{bucket(`{"size": 1, "ratio": 0.50, "neg": -0}`, `{}`)},
			[]string{bucket(`{"size": 1.0, "ratio": 0.5, "neg": 0}`, `{}`)}, true},
		{"exponent alike", []string{bucket(`{"size": 1000}`, `{}`)},
			[]string{bucket(`{"size": 1e3}`, `{}`)}, true},
		{"numbers differ", []string{bucket(`{"size": 1}`, `{}`)},
			[]string{bucket(`{"size": 2}`, `{}`)}, false},
		{"number is not a string", []string{bucket(`{"size": 1}`, `{}`)},
			[]string{bucket(`{"size": "1"}`, `{}`)}, false},
		{"added resource", []string{other},
			[]string{other, bucket(`{"bucket": "b"}`, `{}`)}, false},
		{"no-op and read changes ignored", []string{other},
			[]string{other, change("aws_s3_bucket.b", `["no-op"]`, `{"bucket": "b"}`, `{}`),
				`{"address": "data.x.y", "mode": "data", "change": {"actions": ["read"], "after": {"a": 1}, "after_unknown": {}}}`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, jsonNumber := range []bool{false, true} {
				reviewed := Fingerprint(planJSON(t, jsonNumber, tt.reviewed...))
				applied := Fingerprint(planJSON(t, jsonNumber, tt.applied...))
				if same := reflect.DeepEqual(reviewed, applied); same != tt.same {
					t.Errorf("json.Number %v: same = %v, want %v\nreviewed %+v\napplied  %+v", jsonNumber, same, tt.same, reviewed, applied)
				}
			}
		})
	}
}

// A plan decoded with float64 numbers and the same plan with json.Number numbers fingerprint alike.
func TestFingerprintIndependentOfNumberDecoding(t *testing.T) {
	for _, name := range []string{"create", "grow", "mixed", "no-changes"} {
		t.Run(name, func(t *testing.T) {
			asNumber, err := readPlanSnapshot(name)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(asNumber)
			if err != nil {
				t.Fatal(err)
			}
			var asFloat tfjson.Plan
			if err := json.Unmarshal(b, &asFloat); err != nil {
				t.Fatal(err)
			}
			got, want := Fingerprint(&asFloat), Fingerprint(asNumber)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("float64 %+v\njson.Number %+v", got, want)
			}
			if name != "no-changes" && len(want) == 0 {
				t.Fatal("no changes fingerprinted")
			}
		})
	}
}

func TestFingerprintKeepsLargeIntegersExact(t *testing.T) {
	a := Fingerprint(planJSON(t, true, change("x.y", `["create"]`, `{"n": 9007199254740993}`, `{}`)))
	b := Fingerprint(planJSON(t, true, change("x.y", `["create"]`, `{"n": 9007199254740992}`, `{}`)))
	if a[0].Hash == b[0].Hash {
		t.Fatal("integers beyond float64 precision hash alike")
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"-0.0", "0"}, {"1", "1"}, {"1.0", "1"}, {"1.50", "1.5"}, {"0.25", "0.25"},
		{"-3.100", "-3.1"}, {"1e3", "1000"}, {"1E-2", "0.01"}, {"1000", "1000"}, {"100.000", "100"},
		{"9007199254740993", "9007199254740993"}, {"1e400", "1e400"},
	}
	for _, tt := range tests {
		if got := canonicalNumber(tt.in); got != tt.want {
			t.Errorf("canonicalNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
