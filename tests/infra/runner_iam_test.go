package infra_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRunnerIAM holds the runner module's roles to least privilege: nothing grants everything, the
// plan role cannot write, the task role can only assume the plan and apply roles and do the deploy
// stages' listed calls, and the roles the runner assumes trust only its task role with an external ID.
func TestRunnerIAM(t *testing.T) {
	p := loadRunnerExample(t)

	t.Run("no statement allows every action on every resource", func(t *testing.T) {
		policies := p.applied("aws_iam_role_policy")
		if len(policies) == 0 {
			t.Fatal("no inline IAM policies after apply")
		}
		for _, rp := range policies {
			for _, s := range policyStatements(t, rp) {
				if s.effect != "Allow" {
					continue
				}
				for _, a := range s.actions {
					if a == "*" || a == "*:*" {
						t.Errorf("%s %s allows action %q (on %v)", rp.address, s.sid, a, s.resources)
					}
				}
			}
		}
	})

	t.Run("only the plan role has a managed policy, and it is ReadOnlyAccess", func(t *testing.T) {
		for _, a := range p.applied("aws_iam_role_policy_attachment") {
			roles := p.references(a, "role")
			if !slices.Equal(roles, []string{runnerModule + ".aws_iam_role.plan"}) || !strings.HasSuffix(a.str("policy_arn"), ":iam::aws:policy/ReadOnlyAccess") {
				t.Errorf("%s attaches %s to %v; only ReadOnlyAccess to the plan role is expected", a.address, a.str("policy_arn"), roles)
			}
		}
	})

	t.Run("the plan role only reads, besides the state lock", func(t *testing.T) {
		policies := p.policiesOf(runnerModule + ".aws_iam_role.plan")
		if len(policies) == 0 {
			t.Fatal("the plan role has no inline policy (state bucket and lock table)")
		}
		lockTable := ""
		for _, rp := range policies {
			for _, s := range policyStatements(t, rp) {
				if s.effect != "Allow" {
					continue
				}
				for _, a := range s.actions {
					switch {
					case readAction.MatchString(a):
					case a == "s3:GetObject" || a == "s3:ListBucket":
						for _, r := range s.resources {
							if !strings.HasPrefix(r, "arn:aws:s3:::gitops-app-terraform-state") {
								t.Errorf("%s %s: %s on %s, want the state bucket only", rp.address, s.sid, a, r)
							}
						}
					case a == "kms:Decrypt":
					case a == "dynamodb:PutItem" || a == "dynamodb:DeleteItem":
						for _, r := range s.resources {
							if !strings.HasSuffix(r, ":table/gitops-app-terraform-locks") {
								t.Errorf("%s %s: %s on %s, want the lock table only", rp.address, s.sid, a, r)
							}
							lockTable = r
						}
					default:
						t.Errorf("%s %s: the plan role may %s: not a read", rp.address, s.sid, a)
					}
				}
			}
		}
		if lockTable == "" {
			t.Error("the plan role cannot write the lock item: plans take the state lock")
		}
	})

	t.Run("the task role assumes the plan and apply roles and does the deploy stages, nothing else", func(t *testing.T) {
		plan := p.appliedNamed(t, "aws_iam_role", "plan").str("arn")
		apply := p.appliedNamed(t, "aws_iam_role", "apply").str("arn")
		for _, a := range p.applied("aws_iam_role_policy_attachment") {
			if slices.Contains(p.references(a, "role"), runnerModule+".aws_iam_role.task") {
				t.Errorf("%s attaches %s to the task role", a.address, a.str("policy_arn"))
			}
		}
		assumes := false
		for _, rp := range p.policiesOf(runnerModule + ".aws_iam_role.task") {
			for _, s := range policyStatements(t, rp) {
				if s.effect != "Allow" {
					continue
				}
				for _, a := range s.actions {
					if a == "sts:AssumeRole" {
						assumes = true
						if got := slices.Sorted(slices.Values(s.resources)); !slices.Equal(got, slices.Sorted(slices.Values([]string{plan, apply}))) {
							t.Errorf("%s %s: sts:AssumeRole on %v, want exactly the plan and apply roles", rp.address, s.sid, s.resources)
						}
						continue
					}
					if !slices.Contains(deployStageActions, a) {
						t.Errorf("%s %s: the task role may %s: neither sts:AssumeRole nor a deploy stage's call", rp.address, s.sid, a)
					}
					if a == "iam:PassRole" && slices.Contains(s.resources, "*") {
						t.Errorf("%s %s: iam:PassRole on every role", rp.address, s.sid)
					}
				}
			}
		}
		if !assumes {
			t.Error("the task role cannot assume the plan and apply roles")
		}
	})

	t.Run("the plan and apply roles trust only the task role, with an external ID", func(t *testing.T) {
		task := p.appliedNamed(t, "aws_iam_role", "task").str("arn")
		for _, name := range []string{"plan", "apply"} {
			role := p.appliedNamed(t, "aws_iam_role", name)
			stmts := trustStatements(t, role)
			if len(stmts) == 0 {
				t.Errorf("%s trusts nobody", role.address)
			}
			for _, s := range stmts {
				if s.Effect != "Allow" {
					continue
				}
				if got := oneOrMany(s.Principal["AWS"]); !slices.Equal(got, []string{task}) || len(s.Principal) != 1 {
					t.Errorf("%s trusts %v, want the task role %s only", role.address, s.Principal, task)
				}
				if got := oneOrMany(s.Action); !slices.Equal(got, []string{"sts:AssumeRole"}) {
					t.Errorf("%s trust policy allows %v, want sts:AssumeRole", role.address, got)
				}
				ids := oneOrMany(s.Condition["StringEquals"]["sts:ExternalId"])
				if len(ids) != 1 || ids[0] == "" {
					t.Errorf("%s trust policy does not require sts:ExternalId (condition %v)", role.address, s.Condition)
				}
			}
		}
	})

	t.Run("the apply role manages IAM only under the environments' prefix", func(t *testing.T) {
		for _, rp := range p.policiesOf(runnerModule + ".aws_iam_role.apply") {
			for _, s := range policyStatements(t, rp) {
				if s.effect != "Allow" {
					continue
				}
				for _, a := range s.actions {
					if !strings.HasPrefix(a, "iam:") || readAction.MatchString(a) || a == "iam:CreateServiceLinkedRole" {
						continue
					}
					for _, r := range s.resources {
						if !iamPrefixResource.MatchString(r) {
							t.Errorf("%s %s: %s on %s, want roles, instance profiles and policies under the gitops-app- prefix", rp.address, s.sid, a, r)
						}
					}
				}
			}
		}
	})
}

// readAction matches the calls that only read.
var readAction = regexp.MustCompile(`^[a-z0-9-]+:(Describe|Get|List)[A-Za-z0-9]*\*?$`)

var iamPrefixResource = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:(role|instance-profile|policy)/gitops-app-\*$`)

// deployStageActions are the calls the runner makes with its own credentials in deploy stages:
// image pushes, bundle uploads, ECS waits and migration tasks, instance refreshes.
var deployStageActions = []string{
	"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
	"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
	"ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:DescribeRepositories",
	"s3:ListBucket", "s3:GetObject", "s3:PutObject",
	"autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes",
	"ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition",
	"ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask",
	"iam:PassRole",
}
