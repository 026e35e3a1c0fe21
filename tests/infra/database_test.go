package infra_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// Assertions about the PostgreSQL database: where it lives, who may reach it, how it is
// encrypted, how it survives losses, where its credentials are, and that no output leaks them.

// dbExpectations differ per environment only where terraform.tfvars says so.
var dbExpectations = map[string]struct {
	multiAZ, deletionProtection, finalSnapshot bool
	minBackupDays                              float64
}{
	"dev":     {minBackupDays: 1},
	"staging": {finalSnapshot: true, minBackupDays: 7},
	"prod":    {multiAZ: true, deletionProtection: true, finalSnapshot: true, minBackupDays: 7},
}

// checkDatabase: one private, encrypted PostgreSQL instance in the DB subnet group of the
// private subnets, TLS enforced by its parameter group.
func checkDatabase(t *testing.T, p *envPlan) {
	dbs := p.resources("aws_db_instance")
	if len(dbs) != 1 {
		t.Fatalf("%d DB instances, want 1", len(dbs))
	}
	db := dbs[0]
	if db.str("engine") != "postgres" {
		t.Errorf("engine %q, want postgres", db.str("engine"))
	}
	if db.after["publicly_accessible"] != false {
		t.Errorf("publicly_accessible = %v, want false", db.after["publicly_accessible"])
	}
	if db.after["storage_encrypted"] != true {
		t.Errorf("storage_encrypted = %v, want true", db.after["storage_encrypted"])
	}

	// The environment's key, by its ARN after apply.
	key := p.appliedOne(t, "aws_kms_key").str("arn")
	adb := p.appliedOne(t, "aws_db_instance")
	if adb.str("kms_key_id") != key {
		t.Errorf("storage kms_key_id %q, want the environment's key %q", adb.str("kms_key_id"), key)
	}
	if adb.str("master_user_secret_kms_key_id") != key {
		t.Errorf("master_user_secret_kms_key_id %q, want the environment's key %q", adb.str("master_user_secret_kms_key_id"), key)
	}
	if adb.after["performance_insights_enabled"] == true && adb.str("performance_insights_kms_key_id") != key {
		t.Errorf("Performance Insights kms key %q, want the environment's key %q", adb.str("performance_insights_kms_key_id"), key)
	}

	// Subnet group: its own, of private subnets in at least two zones.
	group := p.appliedOne(t, "aws_db_subnet_group")
	if adb.str("db_subnet_group_name") != group.str("name") || group.str("name") == "" {
		t.Errorf("db_subnet_group_name %q, want the DB subnet group %q", adb.str("db_subnet_group_name"), group.str("name"))
	}
	private := map[string]string{} // subnet ID -> zone
	for _, s := range p.applied("aws_subnet") {
		if tags, _ := s.after["tags"].(map[string]any); tags["Tier"] == "private" {
			private[s.str("id")] = s.str("availability_zone")
		}
	}
	zones := map[string]bool{}
	for _, id := range anyStrings(group.after["subnet_ids"]) {
		zone, ok := private[id]
		if !ok {
			t.Errorf("DB subnet group holds %s, which is not a private subnet", id)
		}
		zones[zone] = true
	}
	if len(zones) < 2 {
		t.Errorf("DB subnet group spans %d zones, want at least 2", len(zones))
	}

	// TLS in transit: the parameter group the instance uses sets rds.force_ssl = 1.
	params := p.appliedOne(t, "aws_db_parameter_group")
	if adb.str("parameter_group_name") != params.str("name") {
		t.Errorf("parameter_group_name %q, want %q", adb.str("parameter_group_name"), params.str("name"))
	}
	forced := false
	prms, _ := params.after["parameter"].([]any)
	for _, prm := range prms {
		m, _ := prm.(map[string]any)
		forced = forced || (m["name"] == "rds.force_ssl" && fmt.Sprint(m["value"]) == "1")
	}
	if !forced {
		t.Errorf("parameter group %s does not set rds.force_ssl = 1", params.str("name"))
	}
}

// checkDatabaseNetwork: the database's security group admits 5432 from the API tasks' group and
// nothing else.
func checkDatabaseNetwork(t *testing.T, p *envPlan) {
	db := p.appliedOne(t, "aws_db_instance")
	groups := anyStrings(db.after["vpc_security_group_ids"])
	if len(groups) != 1 {
		t.Fatalf("DB instance in security groups %v, want its own one", groups)
	}
	service := p.appliedOne(t, "aws_ecs_service")
	taskGroups := anyStrings(block(service.after, "network_configuration")["security_groups"])
	if len(taskGroups) != 1 {
		t.Fatalf("ECS service security groups %v, want one", taskGroups)
	}
	if groups[0] == taskGroups[0] {
		t.Fatalf("the database shares the API tasks' security group %s", groups[0])
	}
	var ingress []resource
	for _, r := range p.applied("aws_vpc_security_group_ingress_rule") {
		if r.str("security_group_id") == groups[0] {
			ingress = append(ingress, r)
		}
	}
	if len(ingress) != 1 {
		t.Fatalf("%d ingress rules on the database's group, want exactly 1 (5432 from the API tasks)", len(ingress))
	}
	r := ingress[0]
	if r.str("ip_protocol") != "tcp" || fmt.Sprint(r.after["from_port"]) != "5432" || fmt.Sprint(r.after["to_port"]) != "5432" {
		t.Errorf("%s: %v %v-%v, want tcp 5432", r.address, r.after["ip_protocol"], r.after["from_port"], r.after["to_port"])
	}
	if r.str("referenced_security_group_id") != taskGroups[0] {
		t.Errorf("%s admits group %q, want the API tasks' group %q", r.address, r.str("referenced_security_group_id"), taskGroups[0])
	}
	for _, cidr := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} {
		if r.str(cidr) != "" {
			t.Errorf("%s: %s = %q; the database admits a security group only", r.address, cidr, r.str(cidr))
		}
	}
}

// checkDatabaseResilience: Multi-AZ, deletion protection, backups and the final snapshot as the
// environment's terraform.tfvars sets them.
func checkDatabaseResilience(t *testing.T, p *envPlan) {
	want := dbExpectations[p.env]
	dbs := p.resources("aws_db_instance")
	if len(dbs) != 1 {
		t.Fatalf("%d DB instances, want 1", len(dbs))
	}
	db := dbs[0]
	if want.multiAZ && db.after["multi_az"] != true {
		t.Errorf("multi_az = %v, want true", db.after["multi_az"])
	}
	if want.deletionProtection && db.after["deletion_protection"] != true {
		t.Errorf("deletion_protection = %v, want true", db.after["deletion_protection"])
	}
	if days, _ := db.after["backup_retention_period"].(float64); days < want.minBackupDays {
		t.Errorf("backup_retention_period = %v, want at least %v days", db.after["backup_retention_period"], want.minBackupDays)
	}
	if want.finalSnapshot && (db.after["skip_final_snapshot"] != false || db.str("final_snapshot_identifier") == "") {
		t.Errorf("skip_final_snapshot = %v, final_snapshot_identifier %q: want a final snapshot", db.after["skip_final_snapshot"], db.str("final_snapshot_identifier"))
	}
}

// checkDatabaseCredentials: RDS generates the master password into Secrets Manager; no password
// is in the configuration or the plan.
func checkDatabaseCredentials(t *testing.T, p *envPlan) {
	for _, db := range p.resources("aws_db_instance") {
		if db.after["manage_master_user_password"] != true {
			t.Errorf("%s: manage_master_user_password = %v, want true", db.address, db.after["manage_master_user_password"])
		}
		for _, attr := range []string{"password", "password_wo"} {
			if v := db.after[attr]; v != nil {
				t.Errorf("%s: %s is set", db.address, attr)
			}
			if c, ok := p.config[db.key()]; ok && c.res.Expressions[attr] != nil {
				t.Errorf("%s: the configuration sets %s", db.address, attr)
			}
		}
	}
}

// checkDatabaseAlarms: CPU, free storage and connections of the instance notify the alarm topic.
func checkDatabaseAlarms(t *testing.T, p *envPlan) {
	id := p.appliedOne(t, "aws_db_instance").str("identifier")
	seen := map[string]bool{}
	for _, a := range p.applied("aws_cloudwatch_metric_alarm") {
		dims, _ := a.after["dimensions"].(map[string]any)
		if a.str("namespace") != "AWS/RDS" || dims["DBInstanceIdentifier"] != id {
			continue
		}
		seen[a.str("metric_name")] = true
		if len(anyStrings(a.after["alarm_actions"])) == 0 {
			t.Errorf("%s notifies nobody", a.address)
		}
	}
	for _, m := range []string{"CPUUtilization", "FreeStorageSpace", "DatabaseConnections"} {
		if !seen[m] {
			t.Errorf("no alarm on the database's %s", m)
		}
	}
}

// secretSource matches what an output must never be computed from: a password, the RDS master
// user secret, the value of a secret version.
var secretSource = regexp.MustCompile(`(?i)(password|master_user_secret|secret_string|secret_binary|aws_secretsmanager_secret_version|random_password)`)

// checkOutputsCarryNoSecrets: no root output is named like a credential, marked sensitive, holds a
// key named like one after apply, or is computed (through any module output and variable) from
// a password or a secret's value.
func checkOutputsCarryNoSecrets(t *testing.T, p *envPlan) {
	root := p.plan.Config.RootModule
	for name, o := range root.Outputs {
		if sensitiveName.MatchString(name) {
			t.Errorf("output %q is named like a credential", name)
		}
		if o.Sensitive {
			t.Errorf("output %q is sensitive: outputs carry no secrets, so none needs to be", name)
		}
		var sources []string
		if o.Expression != nil {
			outputSources(&scope{mod: root}, o.Expression.References, map[string]bool{}, &sources)
		}
		for _, src := range sources {
			if secretSource.MatchString(src) {
				t.Errorf("output %q is computed from %s", name, src)
			}
		}
		value, ok := p.appliedOutput(name)
		if !ok {
			t.Errorf("output %q is missing after apply", name)
			continue
		}
		for _, k := range keysOf(value) {
			if sensitiveName.MatchString(k) {
				t.Errorf("output %q holds a key %q named like a credential", name, k)
			}
		}
	}
}

// scope is a module of the configuration, with the call that instantiated it and the caller's scope.
type scope struct {
	mod    *tfjson.ConfigModule
	call   *tfjson.ModuleCall
	parent *scope
}

// outputSources follows references from module outputs into the modules that compute them and from
// module variables to the callers' arguments, collecting what they end in: resource attributes,
// data sources, locals (not followed: the plan does not record them).
func outputSources(s *scope, refs []string, seen map[string]bool, out *[]string) {
	for _, ref := range refs {
		parts := strings.Split(ref, ".")
		switch parts[0] {
		case "module":
			// "module.x" alone comes with "module.x.output"; following it would take every output.
			if len(parts) < 3 {
				continue
			}
			call := s.mod.ModuleCalls[stripKeys(parts[1])]
			if call == nil || call.Module == nil {
				continue
			}
			o := call.Module.Outputs[stripKeys(parts[2])]
			key := fmt.Sprintf("%p.%s", call.Module, parts[2])
			if o == nil || o.Expression == nil || seen[key] {
				continue
			}
			seen[key] = true
			outputSources(&scope{mod: call.Module, call: call, parent: s}, o.Expression.References, seen, out)
		case "var":
			if s.call == nil || s.parent == nil || len(parts) < 2 {
				continue
			}
			e := s.call.Expressions[parts[1]]
			key := fmt.Sprintf("%p.var.%s", s.call, parts[1])
			if e == nil || e.ExpressionData == nil || seen[key] {
				continue
			}
			seen[key] = true
			outputSources(s.parent, e.References, seen, out)
		default:
			if !slices.Contains(*out, ref) {
				*out = append(*out, ref)
			}
		}
	}
}

// keysOf returns every object key in a decoded JSON value, at any depth.
func keysOf(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = append(out, keysOf(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, keysOf(e)...)
		}
	}
	return out
}
