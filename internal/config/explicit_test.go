package config

import "testing"

func TestExplicitTellsSetKeysFromDefaults(t *testing.T) {
	r, err := ParseRepo([]byte("environments:\n" +
		"  - name: dev\n    dir: environments/dev\n    branch: main\n    require_approval: false\n    refresh: {timeout: 5m}\n" +
		"  - &prod\n    name: prod\n    dir: environments/prod\n    <<: {require_approval: false, vars: {a: b}}\n" +
		"  - name: qa\n    dir: environments/qa\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env, key string
		line     int
		ok       bool
	}{
		{"dev", "branch", 4, true},
		{"dev", "require_approval", 5, true},
		{"dev", "refresh", 6, true},
		{"dev", "vars", 0, false},
		{"dev", "order", 0, false},
		{"dev", "api_url", 0, false},
		{"prod", "require_approval", 7, true}, // set through a merge key: the entry's line
		{"prod", "vars", 7, true},
		{"prod", "branch", 0, false},
		{"qa", "require_approval", 0, false},
		{"qa", "dir", 12, true},
		{"nope", "dir", 0, false},
	} {
		line, ok := r.Explicit(tc.env, tc.key)
		if ok != tc.ok || line != tc.line {
			t.Errorf("Explicit(%s, %s) = %d, %v; want %d, %v", tc.env, tc.key, line, ok, tc.line, tc.ok)
		}
	}
	if prod, _ := r.Environment("prod"); prod.RequireApproval || prod.Vars["a"] != "b" {
		t.Errorf("prod = %+v", prod)
	}
}

func TestParseRepoSaysRolesComeFromTheServer(t *testing.T) {
	_, err := ParseRepo([]byte("environments:\n  - name: prod\n    dir: p\n    apply_role: {arn: x}\n"))
	want := `line 4: unknown key "apply_role" (roles, approvers and pass_env come only from the runner's server policy)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestNameChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		want string
	}{
		{"desired_count", true, ""},
		{"1x", false, `"1x" is not a valid Terraform variable name`},
		{"backend_image", false, `"backend_image" is set by the runner`},
	} {
		err := CheckVarName(tc.name)
		if (err == nil) != tc.ok || (err != nil && err.Error() != tc.want) {
			t.Errorf("CheckVarName(%q) = %v", tc.name, err)
		}
	}
	if !ValidEnvironmentName("prod-eu") || ValidEnvironmentName("Prod") || !ValidBranch("refs/heads/main") || ValidBranch("a..b") {
		t.Error("name checks disagree with the parser")
	}
}
