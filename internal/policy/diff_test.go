package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	const base = `environments:
  - name: dev
    dir: environments/dev
    vars: {desired_count: "2"}
  - name: prod
    dir: environments/prod
    require_approval: true
apps:
  - {name: backend, path: apps/backend, kind: image}
`
	tests := []struct {
		name   string
		policy string
		head   string
		want   []string
	}{
		{"no change", "", base, nil},
		{"a var", "", strings.Replace(base, `"2"`, `"3"`, 1), []string{"dev: vars.desired_count 2 -> 3"}},
		{"a var added and one removed", "", strings.Replace(base, `desired_count: "2"`, `size: small`, 1),
			[]string{"dev: vars.desired_count 2 -> (unset)", "dev: vars.size (unset) -> small"}},
		{"approval dropped where the policy allows it", "", strings.Replace(base, "    require_approval: true\n", "", 1),
			[]string{"prod: require_approval true -> false"}},
		{"approval dropped where the policy refuses it", "repos:\n  - match: [acme/*]\n    environments:\n      - {name: prod, require_approval: true}\n",
			strings.Replace(base, "require_approval: true", "require_approval: false", 1),
			[]string{"prod: require_approval true -> false (refused by the server policy)"}},
		{"a deploy branch moved against the policy", "repos:\n  - match: [acme/*]\n    defaults: {branch: main}\n",
			strings.Replace(base, "    require_approval: true\n", "    require_approval: true\n    branch: hotfix\n", 1),
			[]string{"prod: branch main -> hotfix (refused by the server policy)"}},
		{"a var the server sets", "repos:\n  - match: [acme/*]\n    defaults: {vars: {plan: {desired_count: \"2\"}, apply: {desired_count: \"2\"}}}\n",
			strings.Replace(base, `"2"`, `"5"`, 1),
			[]string{"dev: vars.desired_count 2 -> 5 (refused by the server policy)"}},
		{"environments added and removed, apps and notify", "",
			"environments:\n  - {name: dev, dir: environments/dev, vars: {desired_count: \"2\"}}\n  - {name: staging, dir: environments/staging, branch: release}\n" +
				"apps:\n  - {name: backend, path: apps/backend, kind: image, platforms: [linux/amd64, linux/arm64]}\n  - {name: web, path: apps/web, kind: bundle}\n" +
				"notify: {slack: {channel: deploys}}\n",
			[]string{
				"staging: new environment (dir environments/staging, branch release, require_approval false)",
				"prod: removed",
				"app backend: platforms linux/amd64 -> linux/amd64, linux/arm64",
				"app web: new (kind bundle, path apps/web)",
				"notify.slack.channel (none) -> deploys",
			}},
		{"a key not allowed on a new environment", "repos:\n  - match: [acme/*]\n    allowed_overrides: [vars, require_approval]\n",
			strings.Replace(base, "apps:\n", "  - {name: qa, dir: q, slack_channel: \"#qa\"}\napps:\n", 1),
			[]string{"qa: new environment (dir q, branch main, require_approval false)", "qa: slack_channel (none) -> #qa (refused by the server policy)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := (&Policy{}).For("acme/app")
			if tc.policy != "" {
				rp = mustParse(t, tc.policy).For("acme/app")
			}
			b, err := rp.Apply(parseRepo(t, base))
			if err != nil {
				t.Fatal(err)
			}
			h, _ := rp.Apply(parseRepo(t, tc.head))
			if got := Diff(b, h); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDiffShowsPhasesAndRolesWithoutSecrets(t *testing.T) {
	repo := "environments:\n  - {name: prod, dir: p}\n"
	base, err := mustParse(t, "repos:\n  - match: [a/b]\n    defaults:\n      apply_role: {arn: \"arn:aws:iam::111111111111:role/a\", external_id: old-secret}\n      vars: {plan: {x: \"1\"}, apply: {x: \"1\"}}\n").For("a/b").Apply(parseRepo(t, repo))
	if err != nil {
		t.Fatal(err)
	}
	head, err := mustParse(t, "repos:\n  - match: [a/b]\n    defaults:\n      apply_role: {arn: \"arn:aws:iam::222222222222:role/a\", external_id: new-secret, session_duration: 1h}\n      vars: {plan: {x: \"1\"}, apply: {x: \"2\"}}\n      pass_env: {plan: [TF_TOKEN_x]}\n").For("a/b").Apply(parseRepo(t, repo))
	if err != nil {
		t.Fatal(err)
	}
	got := Diff(base, head)
	want := []string{
		"prod: apply_role arn:aws:iam::111111111111:role/a -> arn:aws:iam::222222222222:role/a",
		"prod: apply_role.external_id " + fingerprint("old-secret") + " -> " + fingerprint("new-secret"),
		"prod: apply_role.session_duration (default) -> 1h0m0s",
		"prod: plan.pass_env (none) -> TF_TOKEN_x",
		"prod: apply.vars.x 1 -> 2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.Join(got, "\n"), "secret") {
		t.Error("external IDs are shown")
	}
	if !strings.HasPrefix(fingerprint("x"), "set (sha256 ") || len(fingerprint("x")) != len("set (sha256 12345678)") {
		t.Errorf("fingerprint = %q", fingerprint("x"))
	}
}
