package awscreds_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/gitops-runner/runner/internal/awscreds"
	"github.com/gitops-runner/runner/internal/testenv/fakests"
)

// The runner's own keys, as its credential chain would find them: canaries that must never reach Terraform.
const (
	runnerKeyID  = "AKIDRUNNERCANARY"
	runnerSecret = "runner-secret-canary"
	runnerToken  = "runner-token-canary"
)

var runnerKeys = []string{runnerKeyID, runnerSecret, runnerToken}

const (
	planRoleARN  = "arn:aws:iam::210987654321:role/terraform-plan"
	applyRoleARN = "arn:aws:iam::210987654321:role/terraform-apply"
	applyExtID   = "acme-runner-apply-7f3c"
	readOnly     = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["s3:Get*","s3:List*"],"Resource":"*"}]}`
)

// runnerConfig is the runner's own configuration: its keys, and no endpoint (NewAssumer gets that).
func runnerConfig() aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(runnerKeyID, runnerSecret, runnerToken),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 10 * time.Second},
	}
}

// noRunnerKeys fails the test when any of the runner's own keys is in one of the texts.
func noRunnerKeys(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, k := range runnerKeys {
			if strings.Contains(s, k) {
				t.Errorf("%s holds the runner's own %q", what, k)
			}
		}
	}
}

// identity is who the keys are to STS at endpoint.
func identity(t *testing.T, endpoint string, c awscreds.Credentials) string {
	t.Helper()
	cfg := runnerConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	cfg.BaseEndpoint = aws.String(endpoint)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("get caller identity with the session: %v", err)
	}
	return aws.ToString(id.Arn)
}

func TestCredentialsPerPhase(t *testing.T) {
	f := fakests.New()
	t.Cleanup(f.Close)
	f.AddRole(fakests.Role{ARN: planRoleARN})
	f.AddRole(fakests.Role{ARN: applyRoleARN, ExternalID: applyExtID, MaxSessionDuration: 2 * time.Hour})
	a := awscreds.NewAssumer(runnerConfig(), f.URL)

	tests := []struct {
		phase        string
		role         awscreds.Role
		wantSession  string
		wantDuration int // DurationSeconds sent; 0 for none
		wantExpires  time.Duration
	}{
		{phase: awscreds.PhasePlan, role: awscreds.Role{ARN: planRoleARN, SessionPolicy: readOnly},
			wantSession: "runner-plan-acme.infra-pr42-prod-r1234", wantExpires: time.Hour},
		{phase: awscreds.PhaseApply, role: awscreds.Role{ARN: applyRoleARN, ExternalID: applyExtID, Duration: 90 * time.Minute},
			wantSession: "runner-apply-acme.infra-pr42-prod-r1234", wantDuration: 5400, wantExpires: 90 * time.Minute},
	}
	got := map[string]awscreds.Credentials{}
	for _, tt := range tests {
		t.Run(tt.phase, func(t *testing.T) {
			before := len(f.Requests())
			c, err := a.Credentials(t.Context(), tt.role, awscreds.Session{Repo: "acme/infra", PR: 42, Env: "prod", RunID: 1234, Phase: tt.phase})
			if err != nil {
				t.Fatal(err)
			}
			got[tt.phase] = c

			reqs := f.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests to STS, want 1", len(reqs))
			}
			r := reqs[0]
			// The runner's own chain signs AssumeRole, and the role's settings reach STS as they are.
			if r.Action != "AssumeRole" || r.CallerAccessKeyID != runnerKeyID || r.RoleARN != tt.role.ARN ||
				r.RoleSessionName != tt.wantSession || r.ExternalID != tt.role.ExternalID ||
				r.DurationSeconds != tt.wantDuration || r.Policy != tt.role.SessionPolicy {
				t.Errorf("STS got %+v", r)
			}
			for _, p := range []string{"SourceIdentity", "Tags.member.1.Key"} {
				if r.Form.Has(p) {
					t.Errorf("STS got %s, which the role's trust policy would have to allow", p)
				}
			}

			if c.RoleARN != tt.role.ARN || c.SessionName != tt.wantSession ||
				c.AssumedRoleARN != "arn:aws:sts::210987654321:assumed-role/"+tt.role.ARN[strings.LastIndex(tt.role.ARN, "/")+1:]+"/"+tt.wantSession {
				t.Errorf("credentials for %s as %s (%s)", c.RoleARN, c.SessionName, c.AssumedRoleARN)
			}
			if d := time.Until(c.Expires); d < tt.wantExpires-time.Minute || d > tt.wantExpires+time.Minute {
				t.Errorf("expire in %v, want %v", d, tt.wantExpires)
			}
			if who := identity(t, f.URL, c); who != c.AssumedRoleARN {
				t.Errorf("the keys are %s to STS, want %s", who, c.AssumedRoleARN)
			}
			env := c.Env("eu-west-1")
			if env["AWS_ACCESS_KEY_ID"] != c.AccessKeyID || env["AWS_SECRET_ACCESS_KEY"] != c.SecretAccessKey ||
				env["AWS_SESSION_TOKEN"] != c.SessionToken {
				t.Errorf("env %v does not carry the session", env)
			}
			var texts []string
			for k, v := range env {
				texts = append(texts, k+"="+v)
			}
			noRunnerKeys(t, "the credentials", append(texts, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)...)
			noRunnerKeys(t, "the secrets to mask", c.Secrets()...)
		})
	}
	plan, apply := got[awscreds.PhasePlan], got[awscreds.PhaseApply]
	if plan.AccessKeyID == apply.AccessKeyID || plan.SecretAccessKey == apply.SecretAccessKey || plan.SessionToken == apply.SessionToken {
		t.Errorf("plan and apply share keys: %v and %v", plan, apply)
	}
}

func TestCredentialsRefused(t *testing.T) {
	f := fakests.New()
	t.Cleanup(f.Close)
	f.AddRole(fakests.Role{ARN: applyRoleARN, ExternalID: applyExtID})
	a := awscreds.NewAssumer(runnerConfig(), f.URL)
	session := awscreds.Session{Repo: "acme/infra", PR: 42, Env: "prod", RunID: 1234, Phase: awscreds.PhaseApply}
	tests := []struct {
		name     string
		role     awscreds.Role
		phase    string
		wantCode string   // the STS error code, when STS was asked
		wantErr  error    // a sentinel, when set
		wantSay  []string // in the error text
		asked    bool     // STS was asked
	}{
		{name: "the external ID does not match the trust policy", role: awscreds.Role{ARN: applyRoleARN, ExternalID: "wrong-external-id"},
			asked: true, wantCode: "AccessDenied",
			wantSay: []string{"apply role " + applyRoleARN, "for prod", "runner-apply-acme.infra-pr42-prod-r1234", "AccessDenied"}},
		{name: "the role does not trust the runner", role: awscreds.Role{ARN: planRoleARN}, phase: awscreds.PhasePlan,
			asked: true, wantCode: "AccessDenied", wantSay: []string{"plan role " + planRoleARN, "not authorized"}},
		{name: "longer than the role allows", role: awscreds.Role{ARN: applyRoleARN, ExternalID: applyExtID, Duration: 2 * time.Hour},
			asked: true, wantCode: "ValidationError", wantSay: []string{"MaxSessionDuration"}},
		{name: "no role is configured", role: awscreds.Role{}, wantErr: awscreds.ErrNoRole,
			wantSay: []string{"apply role for prod"}},
		{name: "a session shorter than STS allows", role: awscreds.Role{ARN: applyRoleARN, Duration: time.Minute},
			wantSay: []string{"apply role " + applyRoleARN, "outside"}},
		{name: "a session policy that is not JSON", role: awscreds.Role{ARN: applyRoleARN, SessionPolicy: "Allow *"},
			wantSay: []string{"not a JSON object"}},
		{name: "an unknown phase", role: awscreds.Role{ARN: applyRoleARN}, phase: "destroy", wantSay: []string{`unknown phase "destroy"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := session
			if tt.phase != "" {
				s.Phase = tt.phase
			}
			before := len(f.Requests())
			c, err := a.Credentials(t.Context(), tt.role, s)
			if err == nil {
				t.Fatalf("got %v, want an error", c)
			}
			if asked := len(f.Requests()) > before; asked != tt.asked {
				t.Errorf("STS asked: %v, want %v", asked, tt.asked)
			}
			var api smithy.APIError
			if tt.wantCode != "" && (!errors.As(err, &api) || api.ErrorCode() != tt.wantCode) {
				t.Errorf("err = %v, want STS's %s", err, tt.wantCode)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			for _, w := range tt.wantSay {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q does not say %q", err, w)
				}
			}
			if tt.role.ExternalID != "" && strings.Contains(err.Error(), tt.role.ExternalID) {
				t.Errorf("err %q shows the external ID", err)
			}
			noRunnerKeys(t, "the error", err.Error())
			if c != (awscreds.Credentials{}) {
				t.Errorf("credentials %v returned with the error", c)
			}
		})
	}
}

// Credentials that end up in a log line or a formatted error by mistake show the session, not the keys.
func TestCredentialsPrintWithoutKeys(t *testing.T) {
	c := awscreds.Credentials{AccessKeyID: "ASIASESSIONKEY", SecretAccessKey: "session-secret", SessionToken: "session-token",
		Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), RoleARN: planRoleARN, SessionName: "runner-plan-x-r1",
		AssumedRoleARN: "arn:aws:sts::210987654321:assumed-role/terraform-plan/runner-plan-x-r1"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("assumed", "creds", c, "ptr", &c)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "%s": fmt.Sprintf("%s", &c),
		"a struct holding them": fmt.Sprintf("%+v", struct{ C awscreds.Credentials }{c}),
		"slog":                  logged.String(),
	}
	for how, out := range outputs {
		for _, secret := range c.Secrets() {
			if strings.Contains(out, secret) {
				t.Errorf("%s prints %q: %s", how, secret, out)
			}
		}
		if !strings.Contains(out, "runner-plan-x-r1") {
			t.Errorf("%s does not name the session: %s", how, out)
		}
	}
}
