// Package awscreds gets Terraform short-lived AWS credentials per phase: the runner assumes the environment's
// plan or apply role with STS, and Terraform gets that session alone, never the runner's own credentials.
package awscreds

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Phases are the Terraform phases that get credentials of their own.
const (
	PhasePlan  = "plan"
	PhaseApply = "apply"
)

// STS limits (AssumeRole's parameters).
const (
	minDuration      = 15 * time.Minute
	maxDuration      = 12 * time.Hour
	maxPolicyChars   = 2048
	maxSessionName   = 64
	minExternalID    = 2
	maxExternalID    = 1224
	sessionNamePunct = "+=,.@-_"
)

// Role is the role one phase of one environment assumes, as the server configuration sets it.
type Role struct {
	// ARN is the role, arn:aws:iam::<account>:role/<name>. Empty means no role is configured.
	ARN string
	// ExternalID, when set, is sent with AssumeRole for a trust policy that requires sts:ExternalId.
	ExternalID string
	// Duration is the session's length, 15m to 12h and within the role's MaxSessionDuration; 0 leaves it to
	// STS (one hour).
	Duration time.Duration
	// SessionPolicy is an inline JSON policy that narrows the session below the role's own permissions.
	SessionPolicy string
}

// externalIDRE is STS's pattern for ExternalId.
var externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]*$`)

// Validate reports what STS would refuse, so that configuration fails when it is loaded rather than at the
// first plan. A role with no ARN is valid: no role is configured.
func (r Role) Validate() error {
	if r.ARN == "" {
		if r.ExternalID != "" || r.Duration != 0 || r.SessionPolicy != "" {
			return errors.New("role settings without a role ARN")
		}
		return nil
	}
	a, err := arn.Parse(r.ARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || len(a.AccountID) != 12 {
		return fmt.Errorf("role %q: not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", r.ARN)
	}
	if r.ExternalID != "" && (len(r.ExternalID) < minExternalID || len(r.ExternalID) > maxExternalID ||
		!externalIDRE.MatchString(r.ExternalID)) {
		// The external ID itself stays out of the message: it is not a secret, but not for PR comments either.
		return fmt.Errorf("role %s: external ID must be %d to %d characters of letters, digits and +=,.@:/-_",
			r.ARN, minExternalID, maxExternalID)
	}
	if r.Duration != 0 && (r.Duration < minDuration || r.Duration > maxDuration) {
		return fmt.Errorf("role %s: session duration %s is outside STS's %s to %s", r.ARN, r.Duration, minDuration, maxDuration)
	}
	if r.SessionPolicy != "" {
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.SessionPolicy), &doc); err != nil {
			return fmt.Errorf("role %s: session policy is not a JSON object: %w", r.ARN, err)
		}
		if len(r.SessionPolicy) > maxPolicyChars {
			return fmt.Errorf("role %s: session policy has %d characters, STS takes %d", r.ARN, len(r.SessionPolicy), maxPolicyChars)
		}
	}
	return nil
}

// Session says whose Terraform run the credentials are for; it names the STS session.
type Session struct {
	Repo  string // owner/name
	PR    int    // 0 when the run has no pull request
	Env   string
	RunID int64
	Phase string // PhasePlan or PhaseApply
}

func (s Session) validate() error {
	if s.Phase != PhasePlan && s.Phase != PhaseApply {
		return fmt.Errorf("unknown phase %q (want %q or %q)", s.Phase, PhasePlan, PhaseApply)
	}
	return nil
}

// RoleSessionName names the STS session, e.g. runner-plan-acme.infra-pr42-prod-r1234. CloudTrail records it
// in every event of the session (userIdentity.arn ends in assumed-role/<role>/<session name>), so it says
// which phase of which run of which PR in which environment did what. STS takes 2 to 64 characters of
// [\w+=,.@-]: other characters become '-' ('/' in the repository becomes '.'), and a name too long loses the
// repository's owner, then characters from the end of the repository and environment names, never the
// phase, PR or run.
func (s Session) RoleSessionName() string {
	head := "runner-" + clean(s.Phase)
	var pr, run string
	if s.PR > 0 {
		pr = "-pr" + strconv.Itoa(s.PR)
	}
	if s.RunID > 0 {
		run = "-r" + strconv.FormatInt(s.RunID, 10)
	}
	repo, env := clean(strings.ReplaceAll(s.Repo, "/", ".")), clean(s.Env)
	budget := maxSessionName - len(head) - len(pr) - len(run)
	size := func() int {
		n := 0
		for _, p := range []string{repo, env} {
			if p != "" {
				n += 1 + len(p)
			}
		}
		return n
	}
	if size() > budget {
		if i := strings.LastIndex(s.Repo, "/"); i >= 0 {
			repo = clean(s.Repo[i+1:])
		}
	}
	// Shorten the longer of the two a character at a time, so both keep as much as they can.
	for size() > budget && (repo != "" || env != "") {
		if len(repo) >= len(env) {
			repo = strings.TrimRight(repo[:len(repo)-1], sessionNamePunct)
		} else {
			env = strings.TrimRight(env[:len(env)-1], sessionNamePunct)
		}
	}
	name := head
	if repo != "" {
		name += "-" + repo
	}
	name += pr
	if env != "" {
		name += "-" + env
	}
	name += run
	// Only a phase that is not one could make it longer.
	return name[:min(len(name), maxSessionName)]
}

// clean keeps the characters STS takes in a session name, turns runs of the others into one '-', and trims
// punctuation from both ends, so parts join with one '-'.
func clean(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune(sessionNamePunct, r))
		switch {
		case ok && r != '-':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), sessionNamePunct)
}
