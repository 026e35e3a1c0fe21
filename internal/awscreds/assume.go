package awscreds

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ErrNoRole is returned for a role with no ARN: the caller runs the phase without AWS credentials (see
// NoCredentialsEnv) and never with the runner's own.
var ErrNoRole = errors.New("no role configured")

// Assumer gets session credentials for a phase's role, signing AssumeRole with the runner's own credentials.
// It keeps nothing between calls and may be shared by concurrent runs.
type Assumer struct {
	sts *sts.Client
}

// NewAssumer makes an Assumer from base, the runner's own configuration (awsconfig.LoadDefaultConfig: static
// keys, an ECS task role, IRSA or any web identity its credential chain finds). endpoint, when set,
// replaces the STS endpoint (RUNNER_AWS_ENDPOINT, for stand-ins).
func NewAssumer(base aws.Config, endpoint string) *Assumer {
	return &Assumer{sts: sts.NewFromConfig(base, func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}

// Credentials assumes role for session s and returns the session's credentials. A role with no ARN is
// ErrNoRole. Errors name the phase, environment, role and session, never a credential or the external ID.
func (a *Assumer) Credentials(ctx context.Context, role Role, s Session) (Credentials, error) {
	if err := s.validate(); err != nil {
		return Credentials{}, fmt.Errorf("assume a role for %s: %w", s.Env, err)
	}
	if role.ARN == "" {
		return Credentials{}, fmt.Errorf("assume the %s role for %s: %w", s.Phase, s.Env, ErrNoRole)
	}
	name := s.RoleSessionName()
	fail := func(err error) (Credentials, error) {
		return Credentials{}, fmt.Errorf("assume the %s role %s for %s (session %s): %w", s.Phase, role.ARN, s.Env, name, err)
	}
	if err := role.Validate(); err != nil {
		return fail(err)
	}
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role.ARN), RoleSessionName: aws.String(name)}
	if role.ExternalID != "" {
		in.ExternalId = aws.String(role.ExternalID)
	}
	if role.Duration != 0 {
		in.DurationSeconds = aws.Int32(int32(role.Duration.Seconds()))
	}
	if role.SessionPolicy != "" {
		in.Policy = aws.String(role.SessionPolicy)
	}
	// No SourceIdentity and no session tags: each needs its own permission in the role's trust policy
	// (sts:SetSourceIdentity, sts:TagSession), without which STS refuses the whole AssumeRole; the session
	// name already puts repository, PR, environment and run in every CloudTrail event of the session.
	out, err := a.sts.AssumeRole(ctx, in)
	if err != nil {
		return fail(err)
	}
	c := out.Credentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		return fail(errors.New("STS answered without session credentials"))
	}
	cr := Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expires:         aws.ToTime(c.Expiration),
		RoleARN:         role.ARN,
		SessionName:     name,
	}
	if out.AssumedRoleUser != nil {
		cr.AssumedRoleARN = aws.ToString(out.AssumedRoleUser.Arn)
	}
	return cr, nil
}
