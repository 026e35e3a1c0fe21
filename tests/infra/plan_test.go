// Package infra_test asserts the architecture of every environment from its Terraform
// plan (terraform show -json), so a change that weakens it fails before review.
package infra_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// expectations differ per environment only where terraform.tfvars says so.
var expectations = map[string]struct {
	natPerAZ bool // one NAT gateway per availability zone (else exactly one)
	minAZs   int
}{
	"dev":     {natPerAZ: false, minAZs: 2},
	"staging": {natPerAZ: true, minAZs: 2},
	"prod":    {natPerAZ: true, minAZs: 3},
}

// runnerOutputs are the outputs the runner reads after apply (docs/CONTRACTS.md).
var runnerOutputs = []string{
	"ecs_cluster_name", "ecs_service_name", "frontend_asg_name", "artifacts_bucket",
	"ecr_repository_url", "app_url", "api_url", "migration",
}

var internet = []string{"0.0.0.0/0", "::/0"}

func TestPlans(t *testing.T) {
	plans := loadPlans(t)

	checks := []struct {
		name  string
		check func(t *testing.T, p *envPlan)
	}{
		{"creates at least 50 resources", checkResourceCount},
		{"exposes the runner's outputs", checkOutputs},
		{"only the public ALB accepts traffic from the internet", checkInternetIngress},
		{"every bucket is encrypted and blocks public access", checkBuckets},
		{"bucket access is logged", checkBucketLogging},
		{"every listener is HTTPS or redirects to HTTPS", checkListeners},
		{"load balancers drop invalid headers and log access", checkLoadBalancers},
		{"API load balancer is internal, frontend one is public", checkInternalAPI},
		{"subnets span the availability zones", checkSubnets},
		{"NAT gateways follow the environment's strategy", checkNATGateways},
		{"ECS service runs privately and rolls back failed deployments", checkECSService},
		{"ECS service scales on CPU and memory", checkECSScaling},
		{"API task runs the runner's image by digest", checkTaskDefinition},
		{"reads the account-level ECR repository and pulls only from it", checkECRPull},
		{"frontend instances require IMDSv2 and encrypt their disk", checkLaunchTemplate},
		{"frontend ASG pins its launch template version and uses ELB health", checkASG},
		{"frontend user data serves the runner's bundle and proxies the API", checkUserData},
		{"VPC flow logs go to a log group with retention", checkFlowLogs},
		{"every log group has retention and a KMS key", checkLogGroups},
		{"API name lives in a private hosted zone", checkPrivateZone},
		{"certificates are DNS-validated", checkCertificates},
		{"alarms watch CPU, unhealthy hosts and target 5xx", checkAlarms},
		{"database is private, encrypted with the environment's key and TLS-only", checkDatabase},
		{"database admits 5432 from the API tasks only", checkDatabaseNetwork},
		{"database backups, Multi-AZ and deletion protection follow the environment", checkDatabaseResilience},
		{"database master password is RDS-managed and never in the plan", checkDatabaseCredentials},
		{"alarms watch the database's CPU, free storage and connections", checkDatabaseAlarms},
		{"no output carries a password or a secret value", checkOutputsCarryNoSecrets},
		{"WAF runs the managed groups and a rate limit, counting only in dev", checkWAF},
		{"WAF protects the public ALB and logs with authorization redacted", checkWAFAttachment},
		{"API task gets its credentials from Secrets Manager, none in plain text", checkTaskSecrets},
		{"execution role reads exactly the referenced secrets", checkExecutionRoleSecrets},
		{"API task exports traces to an ADOT sidecar with X-Ray write access only", checkTracing},
		{"migration output names the cluster, task definition and service network", checkMigrationOutput},
	}

	for _, p := range plans {
		t.Run(p.env, func(t *testing.T) {
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) { c.check(t, p) })
			}
		})
	}
}

func checkResourceCount(t *testing.T, p *envPlan) {
	if n := p.created(); n < 50 {
		t.Errorf("plan creates %d resources, want at least 50", n)
	}
}

func checkOutputs(t *testing.T, p *envPlan) {
	for _, name := range runnerOutputs {
		if _, ok := p.plan.OutputChanges[name]; !ok {
			t.Errorf("output %q is missing", name)
		}
	}
}

func checkInternetIngress(t *testing.T, p *envPlan) {
	for _, r := range p.resources("aws_vpc_security_group_ingress_rule") {
		if !slices.Contains(internet, r.str("cidr_ipv4")) && !slices.Contains(internet, r.str("cidr_ipv6")) {
			continue
		}
		groups := p.references(r, "security_group_id")
		if len(groups) != 1 || !strings.HasSuffix(groups[0], "aws_security_group.public_alb") {
			t.Errorf("%s opens %s%s to the internet on a group other than the public ALB's (%v)",
				r.address, r.str("cidr_ipv4"), r.str("cidr_ipv6"), groups)
			continue
		}
		port := fmt.Sprint(r.after["from_port"])
		if (port != "80" && port != "443") || fmt.Sprint(r.after["to_port"]) != port {
			t.Errorf("%s opens ports %v-%v of the public ALB; want only 80 or 443", r.address, r.after["from_port"], r.after["to_port"])
		}
	}
	// Inline rules and the older rule resource would bypass the check above: allow none open to the internet.
	for _, r := range p.resources("aws_security_group") {
		if rules, _ := r.after["ingress"].([]any); len(rules) > 0 {
			t.Errorf("%s has inline ingress rules; use aws_vpc_security_group_ingress_rule", r.address)
		}
	}
	for _, r := range p.resources("aws_security_group_rule") {
		t.Errorf("%s uses aws_security_group_rule; use aws_vpc_security_group_ingress_rule/egress_rule", r.address)
	}
}

func checkBuckets(t *testing.T, p *envPlan) {
	buckets := p.resources("aws_s3_bucket")
	if len(buckets) == 0 {
		t.Fatal("no S3 bucket planned; the artifacts bucket is missing")
	}
	for _, b := range buckets {
		sse := p.attachedTo(b, "aws_s3_bucket_server_side_encryption_configuration")
		if len(sse) != 1 {
			t.Errorf("%s: %d server-side encryption configurations, want 1", b.address, len(sse))
		} else if algo := path(sse[0].after, "rule", "apply_server_side_encryption_by_default")["sse_algorithm"]; algo != "aws:kms" && algo != "AES256" {
			t.Errorf("%s: sse_algorithm %v, want aws:kms or AES256", b.address, algo)
		}
		pab := p.attachedTo(b, "aws_s3_bucket_public_access_block")
		if len(pab) != 1 {
			t.Errorf("%s: %d public access blocks, want 1", b.address, len(pab))
			continue
		}
		for _, flag := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			if pab[0].after[flag] != true {
				t.Errorf("%s: public access block %s = %v, want true", b.address, flag, pab[0].after[flag])
			}
		}
	}
}

func checkListeners(t *testing.T, p *envPlan) {
	listeners := p.resources("aws_lb_listener")
	if len(listeners) == 0 {
		t.Fatal("no load balancer listener planned")
	}
	for _, l := range listeners {
		switch proto := l.str("protocol"); proto {
		case "HTTPS":
			if !strings.HasPrefix(l.str("ssl_policy"), "ELBSecurityPolicy-TLS13-") {
				t.Errorf("%s: ssl_policy %q, want a TLS 1.3 policy", l.address, l.str("ssl_policy"))
			}
			if l.str("certificate_arn") == "" && !l.isUnknown("certificate_arn") {
				t.Errorf("%s: HTTPS listener without a certificate", l.address)
			}
		default:
			action := block(l.after, "default_action")
			redirect := block(action, "redirect")
			if action["type"] != "redirect" || redirect["protocol"] != "HTTPS" {
				t.Errorf("%s: %s listener that does not redirect to HTTPS (default action %v)", l.address, proto, action)
			}
		}
	}
}

func checkLoadBalancers(t *testing.T, p *envPlan) {
	for _, lb := range p.resources("aws_lb") {
		if lb.after["drop_invalid_header_fields"] != true {
			t.Errorf("%s: drop_invalid_header_fields is not true", lb.address)
		}
		if logs := block(lb.after, "access_logs"); logs["enabled"] != true {
			t.Errorf("%s: access logs are not enabled", lb.address)
		}
	}
}

func checkBucketLogging(t *testing.T, p *envPlan) {
	var targets []string
	for _, l := range p.resources("aws_s3_bucket_logging") {
		targets = append(targets, p.references(l, "target_bucket")...)
	}
	for _, b := range p.resources("aws_s3_bucket") {
		logged := len(p.attachedTo(b, "aws_s3_bucket_logging")) > 0
		if !logged && !slices.Contains(targets, b.key()) {
			t.Errorf("%s has no server access logging and is not a log bucket", b.address)
		}
	}
}

func checkInternalAPI(t *testing.T, p *envPlan) {
	var internal, public []string
	for _, lb := range p.resources("aws_lb") {
		switch {
		case lb.after["internal"] == true && strings.Contains(lb.module, "module.backend"):
			internal = append(internal, lb.address)
		case lb.after["internal"] == false && strings.Contains(lb.module, "module.frontend"):
			public = append(public, lb.address)
		default:
			t.Errorf("%s: internal = %v is not what its module (%s) should have", lb.address, lb.after["internal"], lb.module)
		}
	}
	if len(internal) != 1 || len(public) != 1 {
		t.Errorf("want one internal API ALB and one public frontend ALB, got internal %v, public %v", internal, public)
	}
}

func checkSubnets(t *testing.T, p *envPlan) {
	want := expectations[p.env].minAZs
	for _, tier := range []string{"public", "private"} {
		if zones := p.availabilityZones(tier); len(zones) < want {
			t.Errorf("%s subnets span %v, want at least %d zones", tier, zones, want)
		}
	}
	for _, s := range p.resources("aws_subnet") {
		if s.after["map_public_ip_on_launch"] == true {
			t.Errorf("%s assigns public IPs on launch", s.address)
		}
	}
}

func checkNATGateways(t *testing.T, p *envPlan) {
	nats := len(p.resources("aws_nat_gateway"))
	zones := len(p.availabilityZones("private"))
	want := 1
	if expectations[p.env].natPerAZ {
		want = zones
	}
	if nats != want {
		t.Errorf("%d NAT gateways for %d zones, want %d", nats, zones, want)
	}
	if routes := len(p.resources("aws_route_table_association")); routes < 2*zones {
		t.Errorf("%d route table associations, want one per subnet (%d)", routes, 2*zones)
	}
}

func checkFlowLogs(t *testing.T, p *envPlan) {
	logs := p.resources("aws_flow_log")
	if len(logs) != 1 {
		t.Fatalf("%d flow logs, want 1 (for the VPC)", len(logs))
	}
	fl := logs[0]
	if fl.str("traffic_type") != "ALL" || fl.str("log_destination_type") != "cloud-watch-logs" {
		t.Errorf("flow log traffic %q to %q, want ALL to cloud-watch-logs", fl.str("traffic_type"), fl.str("log_destination_type"))
	}
	if refs := p.references(fl, "iam_role_arn"); len(refs) != 1 {
		t.Errorf("flow log role references %v, want its own IAM role", refs)
	}
}

func checkLogGroups(t *testing.T, p *envPlan) {
	for _, lg := range p.resources("aws_cloudwatch_log_group") {
		if days, _ := lg.after["retention_in_days"].(float64); days <= 0 {
			t.Errorf("%s: no retention period", lg.address)
		}
		if lg.str("kms_key_id") == "" && !lg.isUnknown("kms_key_id") {
			t.Errorf("%s: not encrypted with the environment's KMS key", lg.address)
		}
	}
}
