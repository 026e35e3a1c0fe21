package tf

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

const driftPlan = `{
  "format_version": "1.2",
  "resource_drift": [
    {"address": "aws_security_group.api", "mode": "managed", "type": "aws_security_group", "name": "api",
     "change": {"actions": ["update"],
       "before": {"description": "api", "tags": {"team": "platform"}, "ingress": [{"from_port": 443, "cidr_blocks": ["10.0.0.0/8"]}], "id": "sg-1"},
       "after":  {"description": "api", "tags": {"team": "platform", "owner": "console"}, "ingress": [{"from_port": 443, "cidr_blocks": ["0.0.0.0/0"]}], "id": "sg-1"},
       "before_sensitive": {}, "after_sensitive": {}}},
    {"address": "aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main",
     "change": {"actions": ["update"],
       "before": {"password": "old-secret-value", "instance_class": "db.t4g.micro", "master_user_secret": [{"secret_arn": "arn:1"}]},
       "after":  {"password": "new-secret-value", "instance_class": "db.t4g.small", "master_user_secret": [{"secret_arn": "arn:2"}]},
       "before_sensitive": {"password": true, "master_user_secret": true}, "after_sensitive": {"password": true, "master_user_secret": true}}},
    {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs",
     "change": {"actions": ["delete"], "before": {"bucket": "logs"}, "after": null}},
    {"address": "aws_iam_role.same", "mode": "managed", "type": "aws_iam_role", "name": "same",
     "change": {"actions": ["no-op"], "before": {"name": "x"}, "after": {"name": "x"}}}
  ],
  "resource_changes": []
}`

func TestSummarizeListsDrift(t *testing.T) {
	var p tfjson.Plan
	if err := json.Unmarshal([]byte(driftPlan), &p); err != nil {
		t.Fatal(err)
	}
	s := Summarize("dev", &p)
	want := []DriftedResource{
		{Address: "aws_db_instance.main", Action: ActionUpdate, Attributes: []AttributeChange{
			{Path: "instance_class", Before: `"db.t4g.micro"`, After: `"db.t4g.small"`},
			{Path: "master_user_secret", Before: SensitiveValue, After: SensitiveValue},
			{Path: "password", Before: SensitiveValue, After: SensitiveValue},
		}},
		{Address: "aws_s3_bucket.logs", Action: ActionDelete},
		{Address: "aws_security_group.api", Action: ActionUpdate, Attributes: []AttributeChange{
			{Path: "ingress[0].cidr_blocks[0]", Before: `"10.0.0.0/8"`, After: `"0.0.0.0/0"`},
			{Path: "tags.owner", Before: "null", After: `"console"`},
		}},
	}
	if !reflect.DeepEqual(s.Drift, want) {
		t.Errorf("drift\n%+v\nwant\n%+v", s.Drift, want)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "secret-value") || strings.Contains(string(b), "arn:2") {
		t.Errorf("a sensitive value reached the summary: %s", b)
	}
	if !s.NoChanges {
		t.Errorf("drift alone is no change to apply")
	}
}

func FuzzDrift(f *testing.F) {
	f.Add(driftPlan)
	f.Add(`{"resource_drift":[{"address":"a","change":{"actions":["update"],"before":[1,{"x":2}],"after":{"y":[3]},"after_sensitive":[true]}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var p tfjson.Plan
		if json.Unmarshal([]byte(in), &p) != nil {
			return
		}
		for _, d := range drift(&p) {
			if len(d.Attributes) > maxDriftAttributes {
				t.Fatalf("%d attributes", len(d.Attributes))
			}
		}
	})
}

func TestDriftIsRendered(t *testing.T) {
	var p tfjson.Plan
	if err := json.Unmarshal([]byte(driftPlan), &p); err != nil {
		t.Fatal(err)
	}
	s := Summarize("dev", &p)
	md := s.Markdown()
	for _, want := range []string{
		"#### Changed outside Terraform (3)",
		"- `aws_s3_bucket.logs`: deleted",
		"- `aws_security_group.api`: `ingress[0].cidr_blocks[0]` `\"10.0.0.0/8\"` → `\"0.0.0.0/0\"`, `tags.owner` `null` → `\"console\"`",
		"`password` _" + SensitiveValue + "_ → _" + SensitiveValue + "_",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	txt := s.Text()
	if !strings.Contains(txt, "Changed outside Terraform (3):") || !strings.Contains(txt, "~ aws_db_instance.main: instance_class \"db.t4g.micro\" -> \"db.t4g.small\";") {
		t.Errorf("text:\n%s", txt)
	}
	for _, out := range []string{md, txt} {
		if strings.Contains(out, "secret-value") {
			t.Errorf("a sensitive value was rendered:\n%s", out)
		}
	}
	many := Summary{Environment: "dev", NoChanges: true}
	for i := range maxMarkdownItems + 3 {
		many.Drift = append(many.Drift, DriftedResource{Address: fmt.Sprintf("a.r%d", i), Action: ActionDelete})
	}
	if md := many.Markdown(); !strings.Contains(md, "- …and 3 more") {
		t.Errorf("long drift not bounded:\n%s", md[len(md)-200:])
	}
}
