package awscreds_test

// These tests drive the Assumer's real STS client against moto_server (see internal/testenv/moto). moto issues
// sessions for any role ARN, checking no trust policy and no external ID, so refusals are tested against
// fakests only; what moto does hold is every AssumeRole it answered (its /moto-api/data.json), which shows the
// role, session name, external ID and policy as they reached STS, and session keys that GetCallerIdentity
// resolves to the assumed role.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gitops-runner/runner/internal/awscreds"
	"github.com/gitops-runner/runner/internal/testenv/moto"
)

// motoAssumedRole is the part of moto's record of an AssumeRole that the tests read.
type motoAssumedRole struct {
	SessionName string  `json:"session_name"`
	RoleARN     string  `json:"role_arn"`
	ExternalID  *string `json:"external_id"`
	Policy      *string `json:"policy"`
	AccessKeyID string  `json:"access_key_id"`
}

// motoAssumedRoles reads every session moto has issued.
func motoAssumedRoles(t *testing.T, srv *moto.Server) []motoAssumedRole {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/moto-api/data.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var data struct {
		STS struct {
			AssumedRole []motoAssumedRole `json:"AssumedRole"`
		} `json:"sts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		t.Fatalf("read moto's data: %v", err)
	}
	return data.STS.AssumedRole
}

func TestCredentialsPerPhaseMoto(t *testing.T) {
	srv := moto.Start(t)
	base := srv.Config()
	// The runner's own configuration: its canary keys, and the endpoint left to NewAssumer as
	// RUNNER_AWS_ENDPOINT would be.
	base.Credentials = credentials.NewStaticCredentialsProvider(runnerKeyID, runnerSecret, runnerToken)
	base.BaseEndpoint = nil
	a := awscreds.NewAssumer(base, srv.URL)

	tests := []struct {
		phase       string
		role        awscreds.Role
		wantSession string
		wantExpires time.Duration
	}{
		{phase: awscreds.PhasePlan, role: awscreds.Role{ARN: planRoleARN, SessionPolicy: readOnly},
			wantSession: "runner-plan-acme.infra-pr42-prod-r1234", wantExpires: time.Hour},
		{phase: awscreds.PhaseApply, role: awscreds.Role{ARN: applyRoleARN, ExternalID: applyExtID, Duration: 2 * time.Hour},
			wantSession: "runner-apply-acme.infra-pr42-prod-r1234", wantExpires: 2 * time.Hour},
	}
	got := map[string]awscreds.Credentials{}
	for _, tt := range tests {
		t.Run(tt.phase, func(t *testing.T) {
			c, err := a.Credentials(t.Context(), tt.role, awscreds.Session{Repo: "acme/infra", PR: 42, Env: "prod", RunID: 1234, Phase: tt.phase})
			if err != nil {
				t.Fatal(err)
			}
			got[tt.phase] = c
			wantARN := "arn:aws:sts::210987654321:assumed-role/" + tt.role.ARN[strings.LastIndex(tt.role.ARN, "/")+1:] + "/" + tt.wantSession
			if c.AssumedRoleARN != wantARN || c.SessionName != tt.wantSession {
				t.Errorf("session %s as %s, want %s", c.AssumedRoleARN, c.SessionName, wantARN)
			}
			if who := identity(t, srv.URL, c); who != wantARN {
				t.Errorf("the keys are %s to moto, want %s", who, wantARN)
			}
			// moto's expiry is now plus the DurationSeconds it was sent (3600 when none was).
			if d := time.Until(c.Expires); d < tt.wantExpires-time.Minute || d > tt.wantExpires+time.Minute {
				t.Errorf("expire in %v, want %v", d, tt.wantExpires)
			}
			var rec *motoAssumedRole
			for _, r := range motoAssumedRoles(t, srv) {
				if r.AccessKeyID == c.AccessKeyID {
					rec = &r
				}
			}
			if rec == nil {
				t.Fatalf("moto holds no session with key %s", c.AccessKeyID)
			}
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			if rec.RoleARN != tt.role.ARN || rec.SessionName != tt.wantSession || str(rec.ExternalID) != tt.role.ExternalID ||
				str(rec.Policy) != tt.role.SessionPolicy {
				t.Errorf("moto got role %s, session %s, external ID %q, policy %q", rec.RoleARN, rec.SessionName,
					str(rec.ExternalID), str(rec.Policy))
			}
			var texts []string
			for k, v := range c.Env(moto.Region) {
				texts = append(texts, k+"="+v)
			}
			noRunnerKeys(t, "the credentials", append(texts, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)...)
		})
	}
	plan, apply := got[awscreds.PhasePlan], got[awscreds.PhaseApply]
	if plan.AccessKeyID == apply.AccessKeyID || plan.SecretAccessKey == apply.SecretAccessKey || plan.SessionToken == apply.SessionToken {
		t.Errorf("plan and apply share keys: %v and %v", plan, apply)
	}
}
