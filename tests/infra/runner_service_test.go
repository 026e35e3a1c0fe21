package infra_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/plancheck"
	"github.com/gitops-runner/runner/internal/policy"
)

// TestRunnerLoadBalancer: the load balancer passes on only the webhook, the health endpoints and,
// behind OpenID Connect, the dashboard; anything else is a fixed 404, and HTTP only redirects.
func TestRunnerLoadBalancer(t *testing.T) {
	p := loadRunnerExample(t)

	https := p.appliedNamed(t, "aws_lb_listener", "https")
	if https.str("protocol") != "HTTPS" || https.str("certificate_arn") == "" {
		t.Errorf("%s: protocol %q certificate %q, want HTTPS with the operator's certificate", https.address, https.str("protocol"), https.str("certificate_arn"))
	}
	if d := block(https.after, "default_action"); d["type"] != "fixed-response" || block(d, "fixed_response")["status_code"] != "404" {
		t.Errorf("%s: default action %v, want a fixed 404", https.address, d)
	}
	http := p.appliedNamed(t, "aws_lb_listener", "http")
	if d := block(http.after, "default_action"); d["type"] != "redirect" || block(d, "redirect")["protocol"] != "HTTPS" {
		t.Errorf("%s: default action %v, want a redirect to HTTPS", http.address, d)
	}

	// Every forwarding rule: its paths and methods, and whether people sign in first.
	open := map[string][]string{"/webhooks/github": {"POST"}, "/healthz": {"GET", "HEAD"}, "/readyz": {"GET", "HEAD"}}
	dashboard := []string{"/", "/runs/*", "/environments", "/locks", "/approvals", "/api/*", "/static/*"}
	seen := map[string]bool{}
	rules := p.applied("aws_lb_listener_rule")
	if len(rules) == 0 {
		t.Fatal("no listener rules: nothing reaches the runner")
	}
	for _, r := range rules {
		var paths, methods []string
		for _, c := range blocks(r.after, "condition") {
			if pp := block(c, "path_pattern"); pp != nil {
				paths = append(paths, anyStrings(pp["values"])...)
				if len(anyStrings(pp["regex_values"])) > 0 {
					t.Errorf("%s matches paths by regular expression %v: list them", r.address, pp["regex_values"])
				}
			}
			if m := block(c, "http_request_method"); m != nil {
				methods = append(methods, anyStrings(m["values"])...)
			}
		}
		var types []string
		for _, a := range blocks(r.after, "action") {
			types = append(types, a["type"].(string))
		}
		if !slices.Contains(types, "forward") {
			continue
		}
		if len(paths) == 0 {
			t.Errorf("%s forwards without a path condition", r.address)
		}
		signsIn := slices.Contains(types, "authenticate-oidc")
		for _, path := range paths {
			seen[path] = true
			if want, ok := open[path]; ok {
				if len(methods) == 0 || !isSubset(methods, want) {
					t.Errorf("%s forwards %s for methods %v, want only %v", r.address, path, methods, want)
				}
				continue
			}
			if !slices.Contains(dashboard, path) {
				t.Errorf("%s forwards %s: only the webhook, the health endpoints and the dashboard may reach the runner", r.address, path)
			} else if !signsIn {
				t.Errorf("%s forwards the dashboard's %s without OpenID Connect sign-in", r.address, path)
			}
		}
	}
	for path := range open {
		if !seen[path] {
			t.Errorf("no rule forwards %s", path)
		}
	}
}

// TestRunnerTask: credentials only through `secrets`, a read-only root file system, the data
// directory on a volume, replicas across the private subnets.
func TestRunnerTask(t *testing.T) {
	p := loadRunnerExample(t)
	td, cs := p.runnerContainers(t)
	if len(cs) != 1 {
		t.Fatalf("%s: %d containers, want the runner's only", td.address, len(cs))
	}
	c := cs[0]
	if !c.ReadonlyRootFilesystem {
		t.Errorf("container %s: readonlyRootFilesystem is false", c.Name)
	}
	var mounts []string
	for _, m := range c.MountPoints {
		if m.ReadOnly {
			continue
		}
		mounts = append(mounts, m.ContainerPath)
	}
	if !slices.Contains(mounts, "/var/lib/runner") || !isSubset(mounts, []string{"/var/lib/runner", "/tmp"}) {
		t.Errorf("container %s writes %v, want the data directory /var/lib/runner (and /tmp) only", c.Name, mounts)
	}
	if v, _ := c.env("RUNNER_DATA_DIR"); v != "/var/lib/runner" {
		t.Errorf("container %s: RUNNER_DATA_DIR=%q, want /var/lib/runner", c.Name, v)
	}
	for _, e := range c.Environment {
		if sensitiveName.MatchString(e.Name) {
			t.Errorf("container %s: %s is a plain environment variable; credentials go through secrets", c.Name, e.Name)
		}
		if u, err := url.Parse(e.Value); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				t.Errorf("container %s: %s carries a password in its URL", c.Name, e.Name)
			}
		}
	}

	want := []string{"RUNNER_WEBHOOK_SECRET", "GITHUB_APP_PRIVATE_KEY", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PGPASSWORD"}
	var arns []string
	for _, name := range want {
		v, ok := c.secret(name)
		if !ok {
			t.Errorf("container %s: no secret %s", c.Name, name)
			continue
		}
		if !strings.HasPrefix(v, "arn:aws:secretsmanager:") {
			t.Errorf("container %s: secret %s from %q, want a Secrets Manager ARN", c.Name, name, v)
		}
	}
	for _, s := range c.Secrets {
		arns = append(arns, secretARN(s.ValueFrom))
	}

	// The execution role reads exactly those secrets.
	var readable []string
	for _, rp := range p.policiesOf(runnerModule + ".aws_iam_role.execution") {
		for _, s := range policyStatements(t, rp) {
			if s.effect == "Allow" && slices.Contains(s.actions, "secretsmanager:GetSecretValue") {
				readable = append(readable, s.resources...)
			}
		}
	}
	slices.Sort(arns)
	slices.Sort(readable)
	if !slices.Equal(slices.Compact(arns), slices.Compact(readable)) {
		t.Errorf("the execution role reads %v, want exactly the task's secrets %v", readable, arns)
	}

	svc := p.appliedNamed(t, "aws_ecs_service", "runner")
	if n, _ := svc.after["desired_count"].(float64); n < 2 {
		t.Errorf("%s: desired_count %v, want 2 or more", svc.address, svc.after["desired_count"])
	}
	nc := block(svc.after, "network_configuration")
	if nc["assign_public_ip"] != false || len(anyStrings(nc["subnets"])) < 2 {
		t.Errorf("%s: network %v, want private subnets in two zones or more, no public IP", svc.address, nc)
	}
}

// TestRunnerNetworkAndDatabase: who reaches what, and the store private and encrypted.
func TestRunnerNetworkAndDatabase(t *testing.T) {
	p := loadRunnerExample(t)
	alb := p.appliedNamed(t, "aws_security_group", "alb").str("id")
	tasks := p.appliedNamed(t, "aws_security_group", "tasks").str("id")
	db := p.appliedNamed(t, "aws_security_group", "database").str("id")

	for _, r := range p.applied("aws_vpc_security_group_ingress_rule") {
		switch r.str("security_group_id") {
		case alb:
			port, _ := r.after["from_port"].(float64)
			if cidr := r.str("cidr_ipv4"); cidr == "" || cidr == "0.0.0.0/0" || (port != 443 && port != 80) || r.after["to_port"] != r.after["from_port"] {
				t.Errorf("%s admits %q on %v-%v to the load balancer, want listed CIDRs on 443 and 80", r.address, cidr, r.after["from_port"], r.after["to_port"])
			}
		case tasks:
			if r.str("referenced_security_group_id") != alb || r.after["from_port"] != float64(8080) || r.after["to_port"] != float64(8080) {
				t.Errorf("%s admits %v to the tasks, want the load balancer on 8080 only", r.address, r.after)
			}
		case db:
			if r.str("referenced_security_group_id") != tasks {
				t.Errorf("%s admits %v to the database, want the tasks only", r.address, r.after)
			}
		}
	}

	d := p.appliedNamed(t, "aws_db_instance", "this")
	for attr, want := range map[string]any{"publicly_accessible": false, "storage_encrypted": true, "manage_master_user_password": true, "deletion_protection": true} {
		if d.after[attr] != want {
			t.Errorf("%s: %s = %v, want %v", d.address, attr, d.after[attr], want)
		}
	}
	if d.str("kms_key_id") == "" {
		t.Errorf("%s: not encrypted with a customer-managed key", d.address)
	}
	if n, _ := d.after["backup_retention_period"].(float64); n < 1 {
		t.Errorf("%s: no automated backups", d.address)
	}
	for _, s := range p.applied("aws_secretsmanager_secret") {
		if s.str("kms_key_id") == "" {
			t.Errorf("%s: not encrypted with the module's key", s.address)
		}
	}
	for _, lg := range p.applied("aws_cloudwatch_log_group") {
		if lg.str("kms_key_id") == "" {
			t.Errorf("%s: not encrypted with the module's key", lg.address)
		}
	}
	if len(p.applied("aws_secretsmanager_secret_version")) > 0 {
		t.Error("Terraform puts a secret's value: the operator puts them, so no value is in the plan or the state")
	}
}

func isSubset(got, allowed []string) bool {
	for _, g := range got {
		if !slices.Contains(allowed, g) {
			return false
		}
	}
	return true
}

// TestRunnerPolicies: the example's server policy and OPA policies reach the runner in its task
// definition, and are what the runner accepts: the policy parses (strictly, as at the runner's start) and
// names the module's own roles, the OPA policies compile.
func TestRunnerPolicies(t *testing.T) {
	p := loadRunnerExample(t)
	_, cs := p.runnerContainers(t)
	if len(cs) != 1 {
		t.Fatalf("%d containers, want the runner's only", len(cs))
	}
	c := cs[0]
	text, ok := c.env("RUNNER_REPOS_CONFIG_YAML")
	if !ok {
		t.Fatal("no RUNNER_REPOS_CONFIG_YAML: the example's server policy does not reach the task")
	}
	pol, err := policy.Parse([]byte(text))
	if err != nil {
		t.Fatalf("the runner would refuse the example's server policy: %v\n%s", err, text)
	}
	rp := pol.For("example-org/infra")
	eff, err := rp.Apply(&config.Repo{Environments: []config.Environment{{Name: "dev", Branch: "main"}, {Name: "prod", Branch: "main"}}})
	if err != nil {
		t.Fatalf("the example's server policy refuses a plain repository: %v", err)
	}
	planRole := p.appliedNamed(t, "aws_iam_role", "plan").str("arn")
	applyRole := p.appliedNamed(t, "aws_iam_role", "apply").str("arn")
	for _, name := range []string{"dev", "prod"} {
		env, _ := eff.Environment(name)
		if r := env.PlanRole; r == nil || r.ARN != planRole || r.ExternalID == "" {
			t.Errorf("%s: plan role %+v, want the module's %s with an external ID", name, r, planRole)
		}
		if r := env.ApplyRole; r == nil || r.ARN != applyRole || r.ExternalID == "" {
			t.Errorf("%s: apply role %+v, want the module's %s with an external ID", name, r, applyRole)
		}
		if rp.DriftSchedule(name) == nil {
			t.Errorf("%s: no drift_check schedule", name)
		}
	}
	if prod, _ := eff.Environment("prod"); !prod.RequireApproval || !prod.Protected {
		t.Errorf("prod: require_approval %v, protected %v: want both", prod.RequireApproval, prod.Protected)
	}

	raw, ok := c.env("RUNNER_POLICIES_JSON")
	if !ok {
		t.Fatal("no RUNNER_POLICIES_JSON: the example's OPA policies do not reach the task")
	}
	var files map[string]string
	if err := json.Unmarshal([]byte(raw), &files); err != nil {
		t.Fatalf("RUNNER_POLICIES_JSON is not an object of file name to source: %v", err)
	}
	var modules []plancheck.Module
	for name, src := range files {
		modules = append(modules, plancheck.Module{Path: name, Source: src})
	}
	if len(modules) == 0 {
		t.Error("RUNNER_POLICIES_JSON holds no policy")
	}
	if err := plancheck.Compile(modules); err != nil {
		t.Errorf("the runner would refuse the example's OPA policies: %v", err)
	}
}
