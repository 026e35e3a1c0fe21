package infra_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Assertions about what the API's task gets at run time: its database settings and secrets, the
// roles that fetch them, the tracing sidecar, and the output the runner migrates with.

// collectorImage is the ADOT collector's repository; the tag is pinned by a variable.
const collectorImage = "public.ecr.aws/aws-observability/aws-otel-collector"

// xrayActions are all the task role may do.
var xrayActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}

// checkTaskSecrets: the database credentials come from the RDS-managed secret through `secrets`;
// the connection settings are plain; no plain value is named like a credential.
func checkTaskSecrets(t *testing.T, p *envPlan) {
	_, containers := p.taskContainers(t)
	api := apiContainer(t, containers)
	db := p.appliedOne(t, "aws_db_instance")
	secret := path(db.after, "master_user_secret")["secret_arn"]
	dbSecret, _ := secret.(string)
	if !strings.HasPrefix(dbSecret, "arn:") {
		t.Fatalf("the DB instance reports no master user secret ARN (%v)", secret)
	}
	for name, key := range map[string]string{"DB_USER": "username", "DB_PASSWORD": "password"} {
		if got, ok := api.secret(name); !ok || got != dbSecret+":"+key+"::" {
			t.Errorf("secret %s = %q, want %q (the RDS-managed secret's %s)", name, got, dbSecret+":"+key+"::", key)
		}
	}
	want := map[string]string{
		"STORE":      "postgres",
		"DB_HOST":    db.str("address"),
		"DB_PORT":    fmt.Sprint(db.after["port"]),
		"DB_NAME":    db.str("db_name"),
		"DB_SSLMODE": "require",
	}
	for name, value := range want {
		if got, ok := api.env(name); !ok || got != value {
			t.Errorf("environment %s = %q, want %q", name, got, value)
		}
	}
	for _, c := range containers {
		for _, e := range c.Environment {
			if sensitiveName.MatchString(e.Name) {
				t.Errorf("container %s: plain environment variable %s is named like a credential; pass it through secrets", c.Name, e.Name)
			}
			if _, ok := c.secret(e.Name); ok {
				t.Errorf("container %s: %s is both a plain and a secret variable", c.Name, e.Name)
			}
		}
	}
}

// checkExecutionRoleSecrets: the execution role may read exactly the secrets the task
// definition references, and decrypt only through Secrets Manager, only those.
func checkExecutionRoleSecrets(t *testing.T, p *envPlan) {
	td, containers := p.taskContainers(t)
	var referenced []string
	for _, c := range containers {
		for _, s := range c.Secrets {
			if arn := secretARN(s.ValueFrom); !slices.Contains(referenced, arn) {
				referenced = append(referenced, arn)
			}
		}
	}
	slices.Sort(referenced)
	role, statements := p.rolePolicies(t, td, "execution_role_arn")
	var granted []string
	decrypt := false
	for _, st := range statements {
		if st.effect != "Allow" {
			continue
		}
		for _, a := range st.actions {
			la := strings.ToLower(a)
			switch {
			case la == "*" || strings.HasPrefix(la, "secretsmanager:") && la != "secretsmanager:getsecretvalue":
				t.Errorf("statement %q of %s grants %s; only secretsmanager:GetSecretValue is needed", st.sid, role, a)
			case la == "secretsmanager:getsecretvalue":
				for _, r := range st.resources {
					if strings.Contains(r, "*") || strings.Contains(r, "?") {
						t.Errorf("statement %q of %s reads secrets %q: a wildcard", st.sid, role, r)
					}
					if !slices.Contains(granted, r) {
						granted = append(granted, r)
					}
				}
			case la == "kms:decrypt":
				decrypt = true
				for _, r := range st.resources {
					if strings.Contains(r, "*") {
						t.Errorf("statement %q of %s decrypts with %q: a wildcard", st.sid, role, r)
					}
				}
			}
		}
	}
	slices.Sort(granted)
	if !slices.Equal(granted, referenced) {
		t.Errorf("%s may read secrets %v, want exactly the ones the task definition references %v", role, granted, referenced)
	}
	if len(referenced) > 0 && !decrypt {
		t.Errorf("%s may not decrypt the secrets' key", role)
	}
}

// checkTracing: the ADOT collector sidecar runs beside the API, pinned, logging to CloudWatch;
// the API exports OTLP to it; the task role may only write traces; a sampling rule names the
// API's service.
func checkTracing(t *testing.T, p *envPlan) {
	td, containers := p.taskContainers(t)
	api := apiContainer(t, containers)
	var sidecars []container
	for _, c := range containers {
		if strings.HasPrefix(c.Image, collectorImage+":") || strings.HasPrefix(c.Image, collectorImage+"@") {
			sidecars = append(sidecars, c)
		}
	}
	if len(sidecars) != 1 {
		t.Fatalf("%d ADOT collector containers (%s), want 1", len(sidecars), collectorImage)
	}
	sc := sidecars[0]
	if strings.HasSuffix(sc.Image, ":latest") {
		t.Errorf("collector image %q is not pinned", sc.Image)
	}
	if sc.LogConfiguration.LogDriver != "awslogs" || sc.LogConfiguration.Options["awslogs-group"] == "" {
		t.Errorf("collector logs %+v, want awslogs to a log group", sc.LogConfiguration)
	}
	// The backend's exporter speaks OTLP over HTTP only: the collector's port 4318.
	if endpoint, _ := api.env("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint != "http://localhost:4318" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q, want the sidecar's OTLP/HTTP receiver http://localhost:4318", endpoint)
	}
	if protocol, ok := api.env("OTEL_EXPORTER_OTLP_PROTOCOL"); ok && protocol != "http/protobuf" {
		t.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: the backend exports http/protobuf only", protocol)
	}
	service, _ := api.env("OTEL_SERVICE_NAME")
	if service == "" {
		t.Error("OTEL_SERVICE_NAME is not set")
	}

	role, statements := p.rolePolicies(t, td, "task_role_arn")
	for _, st := range statements {
		if st.effect != "Allow" {
			continue
		}
		for _, a := range st.actions {
			if !slices.Contains(xrayActions, a) {
				t.Errorf("statement %q of the task role %s grants %s; it may only write traces (%v)", st.sid, role, a, xrayActions)
			}
		}
	}

	rules := p.resources("aws_xray_sampling_rule")
	if len(rules) != 1 {
		t.Fatalf("%d X-Ray sampling rules, want 1", len(rules))
	}
	if rules[0].str("service_name") != service {
		t.Errorf("sampling rule for service %q, want the API's %q", rules[0].str("service_name"), service)
	}
	if rate, ok := rules[0].after["fixed_rate"].(float64); !ok || rate < 0 || rate > 1 {
		t.Errorf("sampling rule fixed_rate %v, want 0-1", rules[0].after["fixed_rate"])
	}
}

// checkMigrationOutput: the runner's `migration` output names the cluster, the task definition,
// the API container and the service's own network configuration.
func checkMigrationOutput(t *testing.T, p *envPlan) {
	raw, ok := p.appliedOutput("migration")
	m, _ := raw.(map[string]any)
	if !ok || m == nil {
		t.Fatalf("output migration is missing or not an object: %v", raw)
	}
	cluster := p.appliedOne(t, "aws_ecs_cluster")
	td := p.appliedOne(t, "aws_ecs_task_definition")
	service := p.appliedOne(t, "aws_ecs_service")
	_, containers := p.taskContainers(t)
	network := block(service.after, "network_configuration")
	for key, want := range map[string]any{
		"cluster_arn":            cluster.str("arn"),
		"task_definition_arn":    td.str("arn"),
		"task_definition_family": td.str("family"),
		"container_name":         apiContainer(t, containers).Name,
		"launch_type":            "FARGATE",
		"assign_public_ip":       false,
	} {
		if m[key] != want {
			t.Errorf("migration.%s = %v, want %v", key, m[key], want)
		}
	}
	for key, want := range map[string][]string{
		"subnet_ids":         anyStrings(network["subnets"]),
		"security_group_ids": anyStrings(network["security_groups"]),
	} {
		got := anyStrings(m[key])
		slices.Sort(got)
		slices.Sort(want)
		if len(got) == 0 || !slices.Equal(got, want) {
			t.Errorf("migration.%s = %v, want the service's %v", key, got, want)
		}
	}
}

// TestSamplingRates: dev traces a larger share of requests than prod.
func TestSamplingRates(t *testing.T) {
	rates := map[string]float64{}
	for _, p := range loadPlans(t) {
		for _, r := range p.resources("aws_xray_sampling_rule") {
			rates[p.env], _ = r.after["fixed_rate"].(float64)
		}
	}
	if rates["dev"] <= rates["prod"] {
		t.Errorf("X-Ray sampling rate %v in dev, %v in prod: want dev higher", rates["dev"], rates["prod"])
	}
}
