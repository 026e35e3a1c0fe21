package infra_test

import (
	"slices"
	"strings"
	"testing"
)

// Assertions about AWS WAF on the public load balancer.

// wafManagedGroups are the AWS managed rule groups every environment's web ACL runs.
var wafManagedGroups = []string{
	"AWSManagedRulesCommonRuleSet",
	"AWSManagedRulesKnownBadInputsRuleSet",
	"AWSManagedRulesAmazonIpReputationList",
}

// wafCounts says where the web ACL only counts (terraform.tfvars waf_mode = "count").
var wafCounts = map[string]bool{"dev": true, "staging": false, "prod": false}

// checkWAF: a regional web ACL with the managed groups and a per-IP rate rule, counting in dev
// and blocking elsewhere, metrics on every rule.
func checkWAF(t *testing.T, p *envPlan) {
	acls := p.resources("aws_wafv2_web_acl")
	if len(acls) != 1 {
		t.Fatalf("%d web ACLs, want 1", len(acls))
	}
	acl := acls[0]
	if acl.str("scope") != "REGIONAL" {
		t.Errorf("scope %q, want REGIONAL (a load balancer's)", acl.str("scope"))
	}
	if block(acl.after, "default_action")["allow"] == nil {
		t.Errorf("default action %v, want allow (the rules decide what to stop)", block(acl.after, "default_action"))
	}
	checkVisibility(t, "web ACL", acl.after)

	counting := wafCounts[p.env]
	rules, _ := acl.after["rule"].([]any)
	var groups []string
	rateRules := 0
	for _, raw := range rules {
		rule, _ := raw.(map[string]any)
		name, _ := rule["name"].(string)
		checkVisibility(t, "rule "+name, rule)
		stmt := block(rule, "statement")
		if mg := block(stmt, "managed_rule_group_statement"); mg != nil {
			if mg["vendor_name"] != "AWS" {
				t.Errorf("rule %s: vendor %v, want AWS", name, mg["vendor_name"])
			}
			group, _ := mg["name"].(string)
			groups = append(groups, group)
			override := block(rule, "override_action")
			hasCount, hasNone := len(blocks(override, "count")) > 0, len(blocks(override, "none")) > 0
			if hasCount != counting || hasNone == counting {
				t.Errorf("rule %s: override_action %v, want %s", name, override, map[bool]string{true: "count", false: "none"}[counting])
			}
			continue
		}
		if rb := block(stmt, "rate_based_statement"); rb != nil {
			rateRules++
			if limit, _ := rb["limit"].(float64); limit <= 0 {
				t.Errorf("rule %s: rate limit %v", name, rb["limit"])
			}
			if rb["aggregate_key_type"] != "IP" {
				t.Errorf("rule %s: aggregate_key_type %v, want IP", name, rb["aggregate_key_type"])
			}
			action := block(rule, "action")
			hasCount, hasBlock := len(blocks(action, "count")) > 0, len(blocks(action, "block")) > 0
			if hasCount != counting || hasBlock == counting {
				t.Errorf("rule %s: action %v, want %s", name, action, map[bool]string{true: "count", false: "block"}[counting])
			}
		}
	}
	for _, g := range wafManagedGroups {
		if !slices.Contains(groups, g) {
			t.Errorf("managed rule group %s is missing (have %v)", g, groups)
		}
	}
	if rateRules != 1 {
		t.Errorf("%d rate-based rules, want 1 (per IP)", rateRules)
	}
}

// checkWAFAttachment: the web ACL protects the public load balancer and logs to an encrypted
// aws-waf-logs-* group with the Authorization header redacted.
func checkWAFAttachment(t *testing.T, p *envPlan) {
	acl := p.appliedOne(t, "aws_wafv2_web_acl")
	var public []string
	for _, lb := range p.applied("aws_lb") {
		if lb.after["internal"] == false {
			public = append(public, lb.str("arn"))
		}
	}
	if len(public) != 1 {
		t.Fatalf("%d public load balancers, want 1", len(public))
	}
	assocs := p.applied("aws_wafv2_web_acl_association")
	if len(assocs) != 1 {
		t.Fatalf("%d web ACL associations, want 1", len(assocs))
	}
	if a := assocs[0]; a.str("resource_arn") != public[0] || a.str("web_acl_arn") != acl.str("arn") {
		t.Errorf("association of %q with %q, want the web ACL %q on the public load balancer %q",
			a.str("web_acl_arn"), a.str("resource_arn"), acl.str("arn"), public[0])
	}

	logging := p.appliedOne(t, "aws_wafv2_web_acl_logging_configuration")
	if logging.str("resource_arn") != acl.str("arn") {
		t.Errorf("logging configuration of %q, want the web ACL %q", logging.str("resource_arn"), acl.str("arn"))
	}
	dests := anyStrings(logging.after["log_destination_configs"])
	if len(dests) != 1 {
		t.Fatalf("log destinations %v, want one log group", dests)
	}
	found := false
	for _, lg := range p.applied("aws_cloudwatch_log_group") {
		if lg.str("arn") != dests[0] {
			continue
		}
		found = true
		if !strings.HasPrefix(lg.str("name"), "aws-waf-logs-") {
			t.Errorf("WAF log group %q: the name must start with aws-waf-logs-", lg.str("name"))
		}
		if lg.str("kms_key_id") == "" {
			t.Errorf("WAF log group %q is not KMS-encrypted", lg.str("name"))
		}
	}
	if !found {
		t.Errorf("WAF logs go to %q, not a log group of this environment", dests[0])
	}
	redacted := false
	for _, f := range blocks(logging.after, "redacted_fields") {
		header, _ := block(f, "single_header")["name"].(string)
		redacted = redacted || strings.EqualFold(header, "authorization")
	}
	if !redacted {
		t.Errorf("WAF logs do not redact the authorization header (redacted_fields %v)", logging.after["redacted_fields"])
	}
}

// checkVisibility: CloudWatch metrics and sampled requests on, under a metric name.
func checkVisibility(t *testing.T, what string, m map[string]any) {
	t.Helper()
	v := block(m, "visibility_config")
	if v["cloudwatch_metrics_enabled"] != true || v["sampled_requests_enabled"] != true || v["metric_name"] == "" || v["metric_name"] == nil {
		t.Errorf("%s: visibility_config %v, want metrics and sampled requests under a metric name", what, v)
	}
}

// blocks returns every element of a nested block (list or set).
func blocks(m map[string]any, name string) []map[string]any {
	l, _ := m[name].([]any)
	var out []map[string]any
	for _, e := range l {
		if b, ok := e.(map[string]any); ok {
			out = append(out, b)
		}
	}
	return out
}
