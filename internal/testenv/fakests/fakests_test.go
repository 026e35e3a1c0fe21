package fakests_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/gitops-runner/runner/internal/testenv/fakests"
)

const (
	roleARN    = "arn:aws:iam::210987654321:role/plan"
	externalID = "acme-runner"
)

// client is the real STS client pointed at the fake, signing with the given keys.
func client(f *fakests.Server, key, secret, token string) *sts.Client {
	return sts.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, token),
		BaseEndpoint:     aws.String(f.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 10 * time.Second},
	})
}

func TestAssumeRoleAnswersTheRealSDK(t *testing.T) {
	f := fakests.New()
	t.Cleanup(f.Close)
	f.AddRole(fakests.Role{ARN: roleARN, ExternalID: externalID, MaxSessionDuration: 2 * time.Hour})
	runner := client(f, "AKIDRUNNER", "runner-secret", "")
	tests := []struct {
		name     string
		in       sts.AssumeRoleInput
		wantCode string // "" for success
	}{
		{name: "with the external ID and a session policy", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("runner-plan-acme.infra-pr1-prod-r1"), ExternalId: aws.String(externalID),
			DurationSeconds: aws.Int32(7200), Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}},
		{name: "without the external ID", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("s1")}, wantCode: "AccessDenied"},
		{name: "with another external ID", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("s1"), ExternalId: aws.String("someone-else")}, wantCode: "AccessDenied"},
		{name: "an unknown role", in: sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::210987654321:role/nope"),
			RoleSessionName: aws.String("s1")}, wantCode: "AccessDenied"},
		{name: "longer than the role allows", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID), DurationSeconds: aws.Int32(3 * 3600)},
			wantCode: "ValidationError"},
		{name: "a session name STS does not take", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("acme/infra"), ExternalId: aws.String(externalID)}, wantCode: "ValidationError"},
		{name: "a policy that is not JSON", in: sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("s1"), ExternalId: aws.String(externalID), Policy: aws.String("{")},
			wantCode: "MalformedPolicyDocument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.Requests())
			out, err := runner.AssumeRole(t.Context(), &tt.in)
			if tt.wantCode != "" {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Action != "AssumeRole" || r.CallerAccessKeyID != "AKIDRUNNER" || r.RoleARN != roleARN ||
				r.RoleSessionName != aws.ToString(tt.in.RoleSessionName) || r.ExternalID != externalID ||
				r.DurationSeconds != 7200 || r.Policy != aws.ToString(tt.in.Policy) {
				t.Errorf("recorded %+v", r)
			}
			c := out.Credentials
			if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SecretAccessKey) == "" ||
				aws.ToString(c.SessionToken) == "" {
				t.Errorf("credentials %+v", c)
			}
			if d := time.Until(aws.ToTime(c.Expiration)); d < 119*time.Minute || d > 121*time.Minute {
				t.Errorf("expires in %v, want 2h", d)
			}

			// The session's keys identify as the assumed role; the same key with another token does not.
			id, err := client(f, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)).
				GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			want := "arn:aws:sts::210987654321:assumed-role/plan/" + aws.ToString(tt.in.RoleSessionName)
			if aws.ToString(id.Arn) != want || aws.ToString(out.AssumedRoleUser.Arn) != want || aws.ToString(id.Account) != "210987654321" {
				t.Errorf("identity %s (%s), assumed role user %s; want %s", aws.ToString(id.Arn), aws.ToString(id.Account),
					aws.ToString(out.AssumedRoleUser.Arn), want)
			}
			_, err = client(f, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "forged").
				GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != "InvalidClientTokenId" {
				t.Errorf("with a forged token: %v, want InvalidClientTokenId", err)
			}
		})
	}

	id, err := runner.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != fakests.RunnerARN {
		t.Errorf("the runner is %v (%v), want %s", aws.ToString(id.Arn), err, fakests.RunnerARN)
	}
}
