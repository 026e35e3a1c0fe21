package awscreds_test

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/awscreds"
)

func TestRoleSessionName(t *testing.T) {
	tests := []struct {
		name string
		s    awscreds.Session
		want string
	}{
		{name: "plan", s: awscreds.Session{Repo: "acme/infra", PR: 42, Env: "prod", RunID: 1234, Phase: "plan"},
			want: "runner-plan-acme.infra-pr42-prod-r1234"},
		{name: "apply", s: awscreds.Session{Repo: "acme/infra", PR: 42, Env: "prod", RunID: 1234, Phase: "apply"},
			want: "runner-apply-acme.infra-pr42-prod-r1234"},
		{name: "a run without a pull request", s: awscreds.Session{Repo: "acme/infra", Env: "prod", RunID: 7, Phase: "apply"},
			want: "runner-apply-acme.infra-prod-r7"},
		{name: "characters STS does not take become one dash",
			s:    awscreds.Session{Repo: "acme/infra tools", PR: 1, Env: "eu west #1", RunID: 2, Phase: "plan"},
			want: "runner-plan-acme.infra-tools-pr1-eu-west-1-r2"},
		{name: "non-ASCII letters are not word characters to STS",
			s:    awscreds.Session{Repo: "acme/infrå", PR: 1, Env: "prød", RunID: 2, Phase: "plan"},
			want: "runner-plan-acme.infr-pr1-pr-d-r2"},
		{name: "punctuation STS takes is kept, inside the parts",
			s:    awscreds.Session{Repo: "acme/infra_v2+x", PR: 1, Env: "--prod@eu.", RunID: 2, Phase: "plan"},
			want: "runner-plan-acme.infra_v2+x-pr1-prod@eu-r2"},
		{name: "a long repository loses its owner first",
			s: awscreds.Session{Repo: "a-very-long-organisation-name/terraform-live", PR: 4242, Env: "production",
				RunID: 987654, Phase: "plan"},
			want: "runner-plan-terraform-live-pr4242-production-r987654"},
		{name: "then characters from the end of the longer name",
			s: awscreds.Session{Repo: "a-very-long-organisation-name/terraform-infrastructure-live-accounts", PR: 4242,
				Env: "production", RunID: 987654, Phase: "plan"},
			want: "runner-plan-terraform-infrastructure-l-pr4242-production-r987654"},
		{name: "huge numbers keep the phase, PR and run",
			s: awscreds.Session{Repo: "acme/" + strings.Repeat("r", 80), PR: math.MaxInt32, Env: strings.Repeat("e", 80),
				RunID: math.MaxInt64, Phase: "apply"},
			want: "runner-apply-rrrrrrrr-pr2147483647-eeeeeeee-r9223372036854775807"},
		{name: "nothing but the phase", s: awscreds.Session{Phase: "plan"}, want: "runner-plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.RoleSessionName()
			if got != tt.want {
				t.Errorf("RoleSessionName() = %q\nwant                %q", got, tt.want)
			}
			checkSessionName(t, tt.s, got)
		})
	}
}

// stsSessionName is what STS takes as a RoleSessionName.
var stsSessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// checkSessionName asserts what every session name keeps: STS's limits, the phase first and the PR and run.
func checkSessionName(t *testing.T, s awscreds.Session, name string) {
	t.Helper()
	if !stsSessionName.MatchString(name) {
		t.Errorf("%q: not a session name STS takes", name)
	}
	if !strings.HasPrefix(name, "runner-"+s.Phase) {
		t.Errorf("%q: does not start with runner-%s", name, s.Phase)
	}
	if s.PR > 0 && !strings.Contains(name, "-pr"+strconv.Itoa(s.PR)+"-") && !strings.Contains(name, "-pr"+strconv.Itoa(s.PR)) {
		t.Errorf("%q: lost PR %d", name, s.PR)
	}
	if s.RunID > 0 && !strings.HasSuffix(name, "-r"+strconv.FormatInt(s.RunID, 10)) {
		t.Errorf("%q: lost run %d", name, s.RunID)
	}
}

// Repository and environment names come from repositories and configuration the runner does not control.
func FuzzRoleSessionName(f *testing.F) {
	f.Add("acme/infra", "prod", 42, int64(1234), false)
	f.Add("a/"+strings.Repeat("x", 100), "ü ü", 0, int64(0), true)
	f.Add("", "", math.MaxInt32, int64(math.MaxInt64), true)
	f.Fuzz(func(t *testing.T, repo, env string, pr int, run int64, apply bool) {
		s := awscreds.Session{Repo: repo, PR: pr, Env: env, RunID: run, Phase: awscreds.PhasePlan}
		if apply {
			s.Phase = awscreds.PhaseApply
		}
		if pr > math.MaxInt32 || pr < 0 || run < 0 {
			t.Skip("PR numbers and run IDs are positive; GitHub's PR numbers are 32-bit")
		}
		checkSessionName(t, s, s.RoleSessionName())
	})
}

func TestRoleValidate(t *testing.T) {
	const arn = "arn:aws:iam::210987654321:role/plan"
	tests := []struct {
		name    string
		role    awscreds.Role
		wantErr string // "" for valid
	}{
		{name: "no role", role: awscreds.Role{}},
		{name: "a role alone", role: awscreds.Role{ARN: arn}},
		{name: "a role with a path", role: awscreds.Role{ARN: "arn:aws:iam::210987654321:role/runner/plan"}},
		{name: "another partition", role: awscreds.Role{ARN: "arn:aws-us-gov:iam::210987654321:role/plan"}},
		{name: "everything set", role: awscreds.Role{ARN: arn, ExternalID: "acme:runner/1", Duration: 2 * time.Hour,
			SessionPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`}},
		{name: "settings without a role", role: awscreds.Role{ExternalID: "x1"}, wantErr: "without a role ARN"},
		{name: "a user, not a role", role: awscreds.Role{ARN: "arn:aws:iam::210987654321:user/plan"}, wantErr: "not an IAM role ARN"},
		{name: "not an ARN", role: awscreds.Role{ARN: "plan-role"}, wantErr: "not an IAM role ARN"},
		{name: "no account", role: awscreds.Role{ARN: "arn:aws:iam:::role/plan"}, wantErr: "not an IAM role ARN"},
		{name: "an external ID of one character", role: awscreds.Role{ARN: arn, ExternalID: "Q"}, wantErr: "external ID"},
		{name: "an external ID with a space", role: awscreds.Role{ARN: arn, ExternalID: "a b"}, wantErr: "external ID"},
		{name: "a session under 15 minutes", role: awscreds.Role{ARN: arn, Duration: 5 * time.Minute}, wantErr: "outside"},
		{name: "a session over 12 hours", role: awscreds.Role{ARN: arn, Duration: 13 * time.Hour}, wantErr: "outside"},
		{name: "a policy that is not JSON", role: awscreds.Role{ARN: arn, SessionPolicy: "{"}, wantErr: "not a JSON object"},
		{name: "a policy that is not an object", role: awscreds.Role{ARN: arn, SessionPolicy: `["a"]`}, wantErr: "not a JSON object"},
		{name: "a policy too long for STS", role: awscreds.Role{ARN: arn,
			SessionPolicy: `{"Sid":"` + strings.Repeat("x", 2048) + `"}`}, wantErr: "STS takes 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.role.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want it to say %q", err, tt.wantErr)
			}
			if err != nil && tt.role.ExternalID != "" && strings.Contains(err.Error(), tt.role.ExternalID) {
				t.Errorf("error %q shows the external ID", err)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	c := awscreds.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "s3cr3t", SessionToken: "t0ken",
		Expires: time.Now().Add(time.Hour)}
	tests := []struct {
		name string
		got  map[string]string
		want map[string]string
	}{
		{name: "a session", got: c.Env("eu-west-1"), want: map[string]string{
			"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "t0ken",
			"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}},
		{name: "a session without a region", got: c.Env(""), want: map[string]string{
			"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "t0ken",
			"AWS_EC2_METADATA_DISABLED": "true"}},
		{name: "no role", got: awscreds.NoCredentialsEnv("eu-west-1"), want: map[string]string{
			"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) != len(tt.want) {
				t.Errorf("env %v, want %v", tt.got, tt.want)
			}
			for k, v := range tt.want {
				if tt.got[k] != v {
					t.Errorf("%s = %q, want %q", k, tt.got[k], v)
				}
			}
		})
	}
	if got := c.Secrets(); len(got) != 3 || got[0] != "s3cr3t" || got[1] != "t0ken" || got[2] != "ASIAX" {
		t.Errorf("Secrets() = %q", got)
	}
	if got := (awscreds.Credentials{}).Secrets(); len(got) != 0 {
		t.Errorf("no credentials have secrets %q", got)
	}
}

func TestNoRoleNote(t *testing.T) {
	tests := []struct {
		phase, want string
	}{
		{awscreds.PhasePlan, "planned without AWS credentials: no plan role is configured for prod"},
		{awscreds.PhaseApply, "applied without AWS credentials: no apply role is configured for prod"},
	}
	for _, tt := range tests {
		if got := awscreds.NoRoleNote(awscreds.Session{Env: "prod", Phase: tt.phase}); got != tt.want {
			t.Errorf("NoRoleNote(%s) = %q, want %q", tt.phase, got, tt.want)
		}
	}
}
