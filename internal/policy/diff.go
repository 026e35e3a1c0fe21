package policy

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

// refusedSuffix marks what a file asked for and the policy refused.
const refusedSuffix = " (refused by the server policy)"

// Diff says, one line each, what changes in effect from base (the default branch's configuration) to head
// (a pull request's), for the pull request comment: "dev: vars.desired_count 2 -> 3", "staging: new
// environment ...", and what head asked for that the policy refused: "prod: require_approval true -> false
// (refused by the server policy)". No change gives no lines.
func Diff(base, head Effective) []string {
	var out []string
	seen := map[string]bool{}
	for _, ce := range orderedEnvs(head) {
		name := ce.Name
		seen[name] = true
		h, _ := head.Environment(name)
		if b, ok := base.Environment(name); ok {
			for _, c := range diffEnv(b, h) {
				out = append(out, fmt.Sprintf("%s: %s %s -> %s", name, c.key, c.from, c.to))
			}
		} else {
			out = append(out, fmt.Sprintf("%s: new environment (dir %s, branch %s, require_approval %t)", name, h.Dir, h.Branch, h.RequireApproval))
		}
		if req, ok := head.requested[name]; ok {
			for _, c := range diffEnv(h, req) {
				if refusedKey(c.key, head.refused[name]) {
					out = append(out, fmt.Sprintf("%s: %s %s -> %s%s", name, c.key, c.from, c.to, refusedSuffix))
				}
			}
		}
	}
	for _, ce := range orderedEnvs(base) {
		if !seen[ce.Name] {
			out = append(out, ce.Name+": removed")
		}
	}
	return append(out, diffRepo(base.Repo, head.Repo)...)
}

func orderedEnvs(e Effective) []config.Environment {
	if e.Repo == nil {
		return nil
	}
	return e.Repo.Ordered()
}

// refusedKey reports whether a changed key is one of the refused ones or below it ("vars" covers
// "vars.x" and "plan.vars.x").
func refusedKey(key string, refused []string) bool {
	k := strings.TrimPrefix(strings.TrimPrefix(key, "plan."), "apply.")
	for _, r := range refused {
		if k == r || strings.HasPrefix(k, r+".") {
			return true
		}
	}
	return false
}

type change struct{ key, from, to string }

type field struct{ key, val string }

func diffFields(a, b []field) []change {
	var out []change
	for i := range a {
		if a[i].val != b[i].val {
			out = append(out, change{a[i].key, a[i].val, b[i].val})
		}
	}
	return out
}

func diffEnv(a, b Environment) []change {
	out := diffFields(envFields(a), envFields(b))
	return append(out, diffVars(a, b)...)
}

// envFields are an environment's settings besides vars, in a fixed order.
func envFields(e Environment) []field {
	f := []field{
		{"dir", e.Dir}, {"order", strconv.Itoa(e.Order)}, {"branch", e.Branch},
		{"require_approval", strconv.FormatBool(e.RequireApproval)},
		{"approvers.users", list(e.Approvers.Users)}, {"approvers.teams", list(e.Approvers.Teams)},
	}
	f = append(f, roleFields("plan_role", e.PlanRole)...)
	f = append(f, roleFields("apply_role", e.ApplyRole)...)
	r := e.Refresh
	f = append(f,
		field{"api_url", show(e.APIURL)}, field{"artifacts_bucket", show(e.ArtifactsBucket)},
		field{"slack_channel", show(e.SlackChannel)},
		field{"refresh.min_healthy_percentage", strconv.Itoa(r.MinHealthyPercentage)},
		field{"refresh.instance_warmup", duration(r.InstanceWarmup)},
		field{"refresh.skip_matching", strconv.FormatBool(r.SkipMatching)},
		field{"refresh.auto_rollback", strconv.FormatBool(r.AutoRollback)},
		field{"refresh.in_progress", r.InProgress}, field{"refresh.timeout", duration(r.Timeout)},
		field{"plan.pass_env", list(e.Plan.PassEnv)}, field{"apply.pass_env", list(e.Apply.PassEnv)},
	)
	return f
}

// roleFields show a role without its external ID and session policy, which get a fingerprint.
func roleFields(key string, r *Role) []field {
	if r == nil {
		r = &Role{}
	}
	return []field{
		{key, show(r.ARN)}, {key + ".external_id", fingerprint(r.ExternalID)},
		{key + ".session_duration", duration(r.SessionDuration)}, {key + ".session_policy", fingerprint(r.SessionPolicy)},
	}
}

// diffVars compares vars by name: "vars.x" when each side has one value for both phases, else per phase.
func diffVars(a, b Environment) []change {
	names := map[string]bool{}
	for _, m := range []map[string]string{a.Plan.Vars, a.Apply.Vars, b.Plan.Vars, b.Apply.Vars} {
		for k := range m {
			names[k] = true
		}
	}
	var out []change
	for _, k := range sortedKeys(names) {
		ap, aa, bp, ba := varVal(a.Plan.Vars, k), varVal(a.Apply.Vars, k), varVal(b.Plan.Vars, k), varVal(b.Apply.Vars, k)
		if ap == aa && bp == ba {
			if ap != bp {
				out = append(out, change{"vars." + k, ap, bp})
			}
			continue
		}
		if ap != bp {
			out = append(out, change{"plan.vars." + k, ap, bp})
		}
		if aa != ba {
			out = append(out, change{"apply.vars." + k, aa, ba})
		}
	}
	return out
}

func varVal(m map[string]string, k string) string {
	v, ok := m[k]
	switch {
	case !ok:
		return "(unset)"
	case v == "":
		return `""`
	}
	return v
}

// diffRepo compares apps and notifications.
func diffRepo(a, b *config.Repo) []string {
	if a == nil {
		a = &config.Repo{}
	}
	if b == nil {
		b = &config.Repo{}
	}
	var out []string
	for _, hb := range b.Apps {
		ha, ok := a.App(hb.Name)
		if !ok {
			out = append(out, fmt.Sprintf("app %s: new (kind %s, path %s)", hb.Name, hb.Kind, hb.Path))
			continue
		}
		for _, c := range diffFields(appFields(ha), appFields(hb)) {
			out = append(out, fmt.Sprintf("app %s: %s %s -> %s", hb.Name, c.key, c.from, c.to))
		}
	}
	for _, ha := range a.Apps {
		if _, ok := b.App(ha.Name); !ok {
			out = append(out, fmt.Sprintf("app %s: removed", ha.Name))
		}
	}
	for _, c := range diffFields(notifyFields(a.Notify), notifyFields(b.Notify)) {
		out = append(out, fmt.Sprintf("%s %s -> %s", c.key, c.from, c.to))
	}
	return out
}

func appFields(a config.App) []field {
	return []field{
		{"path", a.Path}, {"kind", a.Kind}, {"repository", show(a.Repository)}, {"platforms", list(a.Platforms)},
		{"base_image", show(a.BaseImage)}, {"create_repository", strconv.FormatBool(a.CreateRepository)},
		{"fail_on_critical", strconv.FormatBool(a.FailOnCritical)}, {"migrate", migrateField(a.Migrate)},
	}
}

func migrateField(m *config.Migrate) string {
	if m == nil {
		return "(none)"
	}
	return fmt.Sprintf("%s from output %s", list(m.Command), m.Output)
}

func notifyFields(n config.Notify) []field {
	return []field{
		{"notify.slack.channel", show(n.Slack.Channel)},
		{"notify.github.comments", strconv.FormatBool(n.GitHub.Comments)},
		{"notify.github.statuses", strconv.FormatBool(n.GitHub.Statuses)},
		{"notify.github.deployments", strconv.FormatBool(n.GitHub.Deployments)},
	}
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func list(l []string) string { return show(strings.Join(l, ", ")) }

func duration(d time.Duration) string {
	if d == 0 {
		return "(default)"
	}
	return d.String()
}

// fingerprint tells values apart without showing them.
func fingerprint(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("set (sha256 %x)", sha256.Sum256([]byte(s)))[:len("set (sha256 ")+8] + ")"
}
