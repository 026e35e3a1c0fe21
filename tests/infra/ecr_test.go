package infra_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// backendRepository is the account-level repository terraform/shared creates and every
// environment reads: the runner builds the backend image once, pushes it there and promotes
// the same digest dev -> staging -> prod.
const backendRepository = "gitops-app/backend"

// ecrPullActions are what the execution role needs to pull an image.
var ecrPullActions = []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}

// TestSharedPlan asserts the account-level root terraform/shared: one repository for the
// backend image, immutable, scanned on push, encrypted, with a lifecycle policy.
func TestSharedPlan(t *testing.T) {
	p := loadRoot(t, "shared")

	repos := p.resources("aws_ecr_repository")
	if len(repos) != 1 {
		t.Fatalf("%d ECR repositories, want 1 (the account-level backend repository)", len(repos))
	}
	r := repos[0]
	if r.str("name") != backendRepository {
		t.Errorf("repository name %q, want %q (app-stack's ecr_repository_name default)", r.str("name"), backendRepository)
	}
	if r.str("image_tag_mutability") != "IMMUTABLE" {
		t.Errorf("image_tag_mutability %q, want IMMUTABLE", r.str("image_tag_mutability"))
	}
	if scan := block(r.after, "image_scanning_configuration"); scan["scan_on_push"] != true {
		t.Errorf("image_scanning_configuration %v, want scan_on_push", scan)
	}
	if enc := block(r.after, "encryption_configuration"); enc["encryption_type"] != "KMS" && enc["encryption_type"] != "AES256" {
		t.Errorf("encryption_configuration %v, want KMS or AES256", enc)
	}

	policies := p.resources("aws_ecr_lifecycle_policy")
	if len(policies) != 1 {
		t.Fatalf("%d ECR lifecycle policies, want 1", len(policies))
	}
	lp := policies[0]
	if refs := p.references(lp, "repository"); len(refs) != 1 || refs[0] != r.key() {
		t.Errorf("lifecycle policy applies to %v, want %s", refs, r.key())
	}
	var doc struct {
		Rules []struct {
			Action struct {
				Type string `json:"type"`
			} `json:"action"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(lp.str("policy")), &doc); err != nil {
		t.Fatalf("lifecycle policy is not known JSON at plan time: %v", err)
	}
	if len(doc.Rules) == 0 {
		t.Error("lifecycle policy has no rules")
	}
	for i, rule := range doc.Rules {
		if rule.Action.Type != "expire" {
			t.Errorf("lifecycle rule %d: action %q, want expire", i, rule.Action.Type)
		}
	}
}

// checkECRPull: an environment creates no repository; it reads the account-level one through
// data "aws_ecr_repository", and its task execution role may pull from exactly that ARN.
func checkECRPull(t *testing.T, p *envPlan) {
	for _, r := range p.resources("aws_ecr_repository") {
		t.Errorf("%s: environments must not create repositories; the image comes from %s (terraform/shared)", r.address, backendRepository)
	}

	repos := p.dataSources("aws_ecr_repository")
	if len(repos) != 1 {
		t.Fatalf("%d aws_ecr_repository data sources, want 1 (the account-level repository)", len(repos))
	}
	repo := repos[0]
	if repo.str("name") != backendRepository {
		t.Errorf("%s reads repository %q, want %q", repo.address, repo.str("name"), backendRepository)
	}
	arn := repo.str("arn")
	if !strings.HasPrefix(arn, "arn:") || !strings.HasSuffix(arn, ":repository/"+backendRepository) {
		t.Fatalf("%s: arn %q is not the repository's ARN (not read at plan time?)", repo.address, arn)
	}

	// The backend module gets the repository's ARN from the data source (not a literal).
	refs, ok := p.moduleCallReferences(repo.module+".module.backend", "ecr_repository_arn")
	want := "data.aws_ecr_repository." + repo.name + ".arn"
	if !ok || !slices.Contains(refs, want) {
		t.Errorf("%s.module.backend ecr_repository_arn refers to %v, want %s", repo.module, refs, want)
	}

	// The runner's output names the same repository.
	if url := p.plan.OutputChanges["ecr_repository_url"]; url == nil || url.After != repo.str("repository_url") {
		t.Errorf("output ecr_repository_url is not the repository's URL %q", repo.str("repository_url"))
	}

	// The execution role: the task definition's execution_role_arn names it.
	tds := p.resources("aws_ecs_task_definition")
	if len(tds) != 1 {
		t.Fatalf("%d task definitions, want 1", len(tds))
	}
	roles := p.references(tds[0], "execution_role_arn")
	if len(roles) != 1 {
		t.Fatalf("execution_role_arn refers to %v, want one IAM role", roles)
	}
	role := roles[0]
	for _, a := range p.resources("aws_iam_role_policy_attachment") {
		if slices.Contains(p.references(a, "role"), role) {
			t.Errorf("%s attaches %s to the execution role; its permissions must be the inline policy, scoped to one repository", a.address, a.str("policy_arn"))
		}
	}

	// The pull grants must be visible in the plan itself; a policy only known after apply (the
	// secrets' one names ARNs AWS assigns) is read from the applied state and may not grant pulls.
	pulls := map[string]bool{}
	inline := 0
	for _, rp := range p.resources("aws_iam_role_policy") {
		if !slices.Contains(p.references(rp, "role"), role) {
			continue
		}
		inline++
		knownAtPlan := !rp.isUnknown("policy")
		if !knownAtPlan {
			applied := p.appliedByKey(rp.key())
			if len(applied) == 0 {
				t.Errorf("%s: policy is unknown at plan time and missing from the applied state", rp.address)
				continue
			}
			for _, a := range applied {
				if a.address == rp.address {
					rp = a
				}
			}
		}
		for _, st := range policyStatements(t, rp) {
			var ecr []string
			for _, a := range st.actions {
				if strings.HasPrefix(strings.ToLower(a), "ecr:") && a != "ecr:GetAuthorizationToken" {
					ecr = append(ecr, a)
				}
			}
			if len(ecr) == 0 || st.effect != "Allow" {
				continue
			}
			if len(st.resources) != 1 || st.resources[0] != arn {
				t.Errorf("%s: statement %q grants %v on %v, want exactly %s", rp.address, st.sid, ecr, st.resources, arn)
				continue
			}
			if !knownAtPlan {
				t.Errorf("%s: statement %q grants %v in a policy unknown at plan time; keep the pull grants where the plan shows them", rp.address, st.sid, ecr)
				continue
			}
			for _, a := range ecr {
				pulls[a] = true
			}
		}
	}
	if inline == 0 {
		t.Fatalf("no inline policy on the execution role %s", role)
	}
	for _, a := range ecrPullActions {
		if !pulls[a] {
			t.Errorf("the execution role is not granted %s on %s", a, arn)
		}
	}
}

type statement struct {
	sid, effect        string
	actions, resources []string
}

// policyStatements decodes the known policy document of an IAM policy resource.
func policyStatements(t *testing.T, r resource) []statement {
	t.Helper()
	var doc struct {
		Statement []struct {
			Sid      string `json:"Sid"`
			Effect   string `json:"Effect"`
			Action   any    `json:"Action"`
			Resource any    `json:"Resource"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(r.str("policy")), &doc); err != nil {
		t.Errorf("%s: policy is not JSON: %v", r.address, err)
		return nil
	}
	var out []statement
	for _, s := range doc.Statement {
		out = append(out, statement{sid: s.Sid, effect: s.Effect, actions: oneOrMany(s.Action), resources: oneOrMany(s.Resource)})
	}
	return out
}

// oneOrMany reads an IAM policy element that is a string or a list of strings.
func oneOrMany(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return anyStrings(v)
}
