package infra_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Assertions about the application tiers: the API on ECS, its image repository, the nginx
// frontend on EC2, DNS and certificates, and alarms.

func checkECSService(t *testing.T, p *envPlan) {
	services := p.resources("aws_ecs_service")
	if len(services) != 1 {
		t.Fatalf("%d ECS services, want 1", len(services))
	}
	s := services[0]
	if s.str("launch_type") != "FARGATE" {
		t.Errorf("launch_type %q, want FARGATE", s.str("launch_type"))
	}
	if network := block(s.after, "network_configuration"); network == nil || network["assign_public_ip"] != false {
		t.Errorf("network_configuration %v, want assign_public_ip = false", network)
	}
	if cb := block(s.after, "deployment_circuit_breaker"); cb["enable"] != true || cb["rollback"] != true {
		t.Errorf("deployment_circuit_breaker %v, want enable and rollback", cb)
	}
	if lb := block(s.after, "load_balancer"); lb == nil || fmt.Sprint(lb["container_port"]) != "8080" {
		t.Errorf("load_balancer %v, want the API container on port 8080", lb)
	}
	for _, tg := range p.resources("aws_lb_target_group") {
		if strings.Contains(tg.module, "module.backend") {
			if hc := block(tg.after, "health_check"); hc["path"] != "/health" || fmt.Sprint(tg.after["port"]) != "8080" {
				t.Errorf("%s: health check %v on port %v, want /health on 8080", tg.address, hc["path"], tg.after["port"])
			}
		}
	}
	clusters := p.resources("aws_ecs_cluster")
	if len(clusters) != 1 {
		t.Fatalf("%d ECS clusters, want 1", len(clusters))
	}
	setting := block(clusters[0].after, "setting")
	if setting["name"] != "containerInsights" || setting["value"] != "enabled" {
		t.Errorf("cluster setting %v, want containerInsights enabled", setting)
	}
}

func checkECSScaling(t *testing.T, p *envPlan) {
	metrics := map[string]bool{}
	for _, pol := range p.resources("aws_appautoscaling_policy") {
		spec := path(pol.after, "target_tracking_scaling_policy_configuration", "predefined_metric_specification")
		if m, ok := spec["predefined_metric_type"].(string); ok {
			metrics[m] = true
		}
	}
	for _, m := range []string{"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"} {
		if !metrics[m] {
			t.Errorf("no target tracking policy on %s", m)
		}
	}
	for _, target := range p.resources("aws_appautoscaling_target") {
		if fmt.Sprint(target.after["min_capacity"]) == "0" {
			t.Errorf("%s: min_capacity 0 would let the API scale to nothing", target.address)
		}
	}
}

func checkTaskDefinition(t *testing.T, p *envPlan) {
	td, containers := p.taskContainers(t)
	if td.str("network_mode") != "awsvpc" || !slices.Contains(anyStrings(td.after["requires_compatibilities"]), "FARGATE") {
		t.Errorf("network_mode %q, compatibilities %v; want awsvpc on FARGATE", td.str("network_mode"), td.after["requires_compatibilities"])
	}
	if len(containers) != 2 {
		t.Errorf("%d containers, want two: the API and the ADOT collector sidecar", len(containers))
	}
	c := apiContainer(t, containers)
	if want := variable(p, "backend_image"); c.Image != want || !strings.Contains(c.Image, "@sha256:") {
		t.Errorf("image %q, want backend_image %q pinned by digest", c.Image, want)
	}
	if c.Essential != nil && !*c.Essential {
		t.Error("the API container is not essential")
	}
	for _, c := range containers {
		if !c.ReadonlyRootFilesystem {
			t.Errorf("container %s: root filesystem is writable", c.Name)
		}
		if c.LogConfiguration.LogDriver != "awslogs" {
			t.Errorf("container %s: log driver %q, want awslogs", c.Name, c.LogConfiguration.LogDriver)
		}
	}
	for _, role := range []string{"execution_role_arn", "task_role_arn"} {
		if refs := p.references(td, role); len(refs) != 1 || !strings.Contains(refs[0], "aws_iam_role.") {
			t.Errorf("%s refers to %v, want the module's own IAM role", role, refs)
		}
	}
}

func checkLaunchTemplate(t *testing.T, p *envPlan) {
	templates := p.resources("aws_launch_template")
	if len(templates) != 1 {
		t.Fatalf("%d launch templates, want 1", len(templates))
	}
	lt := templates[0]
	if md := block(lt.after, "metadata_options"); md["http_tokens"] != "required" {
		t.Errorf("metadata_options %v, want http_tokens = required (IMDSv2)", md)
	}
	if ebs := path(lt.after, "block_device_mappings", "ebs"); ebs["encrypted"] != "true" && ebs["encrypted"] != true {
		t.Errorf("root volume %v, want encrypted", ebs)
	}
	if lt.str("key_name") != "" {
		t.Errorf("key_name %q: access is through SSM, not SSH keys", lt.str("key_name"))
	}
	ssm := false
	for _, a := range p.resources("aws_iam_role_policy_attachment") {
		ssm = ssm || strings.HasSuffix(a.str("policy_arn"), ":policy/AmazonSSMManagedInstanceCore")
	}
	if !ssm {
		t.Error("no role has AmazonSSMManagedInstanceCore: instances would be reachable only with SSH")
	}
}

func checkASG(t *testing.T, p *envPlan) {
	groups := p.resources("aws_autoscaling_group")
	if len(groups) != 1 {
		t.Fatalf("%d Auto Scaling groups, want 1", len(groups))
	}
	g := groups[0]
	if g.str("health_check_type") != "ELB" {
		t.Errorf("health_check_type %q, want ELB", g.str("health_check_type"))
	}
	// latest_version is computed, so a new template's version is unknown at plan time;
	// otherwise it must be an explicit number, never $Latest or $Default.
	lt := block(g.after, "launch_template")
	version, _ := lt["version"].(string)
	if block(g.unknown, "launch_template")["version"] != true && (version == "" || strings.HasPrefix(version, "$")) {
		t.Errorf("launch template version %q: instance refresh auto-rollback needs an explicit version", version)
	}
	policies := 0
	for _, pol := range p.resources("aws_autoscaling_policy") {
		if pol.str("policy_type") == "TargetTrackingScaling" {
			policies++
		}
	}
	if policies == 0 {
		t.Error("no target tracking scaling policy for the frontend Auto Scaling group")
	}
}

func checkUserData(t *testing.T, p *envPlan) {
	lt := p.resources("aws_launch_template")
	if len(lt) != 1 || lt[0].isUnknown("user_data") {
		t.Skip("user data is only known after apply")
	}
	raw, err := base64.StdEncoding.DecodeString(lt[0].str("user_data"))
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	script := string(raw)
	version := variable(p, "frontend_version")
	bucket := ""
	for _, r := range p.resources("aws_s3_bucket") {
		if r.name == "artifacts" {
			bucket = r.str("bucket")
		}
	}
	if bucket == "" {
		t.Fatal("no artifacts bucket with a known name")
	}
	for _, want := range []string{
		"s3://" + bucket + "/frontend/" + version + ".tar.gz",
		"dnf install -y nginx",
		"listen 8080;",
		"https://api." + variable(p, "domain"),
	} {
		if !strings.Contains(script, want) {
			t.Errorf("user data does not contain %q", want)
		}
	}
	if strings.Contains(script, "${") {
		t.Error("user data still holds an unrendered ${...} placeholder")
	}
}

func checkPrivateZone(t *testing.T, p *envPlan) {
	var private []resource
	for _, z := range p.resources("aws_route53_zone") {
		if vpcs, _ := z.after["vpc"].([]any); len(vpcs) > 0 {
			private = append(private, z)
		}
	}
	if len(private) != 1 || !strings.HasPrefix(private[0].str("name"), "api.") {
		t.Fatalf("want one private hosted zone api.<domain>, got %d", len(private))
	}
	zone := private[0]
	found := false
	for _, rec := range p.resources("aws_route53_record") {
		if rec.str("name") == zone.str("name") && block(rec.after, "alias") != nil {
			found = true
		}
	}
	if !found {
		t.Errorf("no alias record %s (to the internal ALB)", zone.str("name"))
	}
}

func checkCertificates(t *testing.T, p *envPlan) {
	certs := p.resources("aws_acm_certificate")
	if len(certs) < 2 {
		t.Errorf("%d certificates, want one for app.<domain> and one for api.<domain>", len(certs))
	}
	for _, c := range certs {
		if c.str("validation_method") != "DNS" {
			t.Errorf("%s: validation_method %q, want DNS", c.address, c.str("validation_method"))
		}
	}
	if v := len(p.resources("aws_acm_certificate_validation")); v != len(certs) {
		t.Errorf("%d certificate validations for %d certificates", v, len(certs))
	}
}

func checkAlarms(t *testing.T, p *envPlan) {
	metrics := map[string]int{}
	for _, a := range p.resources("aws_cloudwatch_metric_alarm") {
		metrics[a.str("metric_name")]++
		if actions, _ := a.after["alarm_actions"].([]any); len(actions) == 0 && !a.isUnknown("alarm_actions") {
			t.Errorf("%s notifies nobody", a.address)
		}
	}
	for _, m := range []string{"CPUUtilization", "UnHealthyHostCount", "HTTPCode_Target_5XX_Count"} {
		if metrics[m] == 0 {
			t.Errorf("no alarm on %s", m)
		}
	}
}
