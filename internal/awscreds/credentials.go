package awscreds

import (
	"fmt"
	"log/slog"
	"time"
)

// Credentials are one STS session's keys. They print (fmt, slog) without the keys.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expires         time.Time

	// RoleARN is the role assumed, AssumedRoleARN the session as CloudTrail names it
	// (arn:aws:sts::<account>:assumed-role/<role>/<session name>), SessionName the session's name.
	RoleARN, AssumedRoleARN, SessionName string
}

// Env is all of AWS that Terraform gets: the session's keys and the region. AWS_EC2_METADATA_DISABLED keeps the
// SDKs in Terraform's providers from asking the instance metadata service, where the runner's own instance
// role lives. The caller starts Terraform from an environment without any other AWS_ variable (the runner's
// AWS_PROFILE, AWS_CONTAINER_CREDENTIALS_*, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN all lead to the
// runner's own credentials). An empty region is left out.
func (c Credentials) Env(region string) map[string]string {
	env := NoCredentialsEnv(region)
	env["AWS_ACCESS_KEY_ID"] = c.AccessKeyID
	env["AWS_SECRET_ACCESS_KEY"] = c.SecretAccessKey
	env["AWS_SESSION_TOKEN"] = c.SessionToken
	return env
}

// Secrets are the values to mask out of Terraform's output and of anything posted or logged.
func (c Credentials) Secrets() []string {
	var s []string
	for _, v := range []string{c.SecretAccessKey, c.SessionToken, c.AccessKeyID} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// String names the session, never its keys, so that a credential printed by mistake leaks nothing.
func (c Credentials) String() string {
	who := c.AssumedRoleARN
	if who == "" {
		who = c.RoleARN + " as " + c.SessionName
	}
	return fmt.Sprintf("AWS session %s until %s", who, c.Expires.UTC().Format(time.RFC3339))
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue logs the session, never its keys.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("role", c.RoleARN),
		slog.String("session", c.SessionName),
		slog.Time("expires", c.Expires),
	)
}

// NoCredentialsEnv is all of AWS that Terraform gets when the phase has no role configured: the region and
// no credentials, so the providers find none rather than the runner's. An empty region is left out.
func NoCredentialsEnv(region string) map[string]string {
	env := map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}
	if region != "" {
		env["AWS_REGION"] = region
		env["AWS_DEFAULT_REGION"] = region
	}
	return env
}

// NoRoleNote is what the PR comment says about a phase run without a role, e.g. "planned without AWS
// credentials: no plan role is configured for prod".
func NoRoleNote(s Session) string {
	done := "planned"
	if s.Phase == PhaseApply {
		done = "applied"
	}
	return fmt.Sprintf("%s without AWS credentials: no %s role is configured for %s", done, s.Phase, s.Env)
}
