package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// RepoMaxFileSize bounds .runner.yaml: it comes from the repository, so it is untrusted input.
const RepoMaxFileSize = 1 << 20

// The raw* types mirror the YAML; pointers tell "absent" from a zero value so defaults apply.
type rawRepo struct {
	Environments []rawEnvironment       `yaml:"environments"`
	Apps         []rawApp               `yaml:"apps"`
	Notify       rawNotify              `yaml:"notify"`
	Workflows    map[string]rawWorkflow `yaml:"workflows"`
	Ignore       []string               `yaml:"ignore"`
}

type rawEnvironment struct {
	Name            string            `yaml:"name"`
	Dir             string            `yaml:"dir"`
	Roots           []string          `yaml:"roots"`
	Projects        []rawProject      `yaml:"projects"`
	Workflow        string            `yaml:"workflow"`
	Order           *int              `yaml:"order"`
	Branch          *string           `yaml:"branch"`
	RequireApproval *bool             `yaml:"require_approval"`
	APIURL          *string           `yaml:"api_url"`
	ArtifactsBucket string            `yaml:"artifacts_bucket"`
	SlackChannel    string            `yaml:"slack_channel"`
	Refresh         rawRefresh        `yaml:"refresh"`
	Vars            map[string]string `yaml:"vars"`
}

type rawRefresh struct {
	MinHealthyPercentage *int    `yaml:"min_healthy_percentage"`
	InstanceWarmup       *string `yaml:"instance_warmup"`
	SkipMatching         *bool   `yaml:"skip_matching"`
	AutoRollback         *bool   `yaml:"auto_rollback"`
	InProgress           *string `yaml:"in_progress"`
	Timeout              *string `yaml:"timeout"`
}

type rawApp struct {
	Name             string   `yaml:"name"`
	Path             string   `yaml:"path"`
	Kind             string   `yaml:"kind"`
	Repository       string   `yaml:"repository"`
	Platforms        []string `yaml:"platforms"`
	BaseImage        string   `yaml:"base_image"`
	CreateRepository bool     `yaml:"create_repository"`
	FailOnCritical   bool     `yaml:"fail_on_critical"`
	Migrate          *struct {
		Command []string `yaml:"command"`
		Output  string   `yaml:"output"`
	} `yaml:"migrate"`
}

type rawNotify struct {
	Slack struct {
		Channel string `yaml:"channel"`
	} `yaml:"slack"`
	GitHub struct {
		Comments    *bool `yaml:"comments"`
		Statuses    *bool `yaml:"statuses"`
		Deployments *bool `yaml:"deployments"`
	} `yaml:"github"`
}

var (
	repoNameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,62})$`)
	repoVarNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	repoBucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	repoECRRE      = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	repoOutputRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`) // a Terraform output name
	repoPlatformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
)

// repoServerOnlyKeys are environment settings that only the runner's server policy sets; naming them in
// .runner.yaml is an error that says so.
var repoServerOnlyKeys = []string{"plan_role", "apply_role", "approvers", "pass_env"}

// repoRunnerVars are the -var inputs the runner sets itself; a repository may not override them.
var repoRunnerVars = map[string]bool{"backend_image": true, "frontend_version": true}

// ParseRepo parses .runner.yaml content strictly, applies defaults and validates values. It does
// not touch the filesystem. On failure the error is a RepoErrors listing every problem found.
// A file with no environments is valid here; LoadRepo then discovers them.
func ParseRepo(data []byte) (*Repo, error) {
	var raw rawRepo
	doc, problems, err := DecodeStrict(data, RepoMaxFileSize, &raw)
	if err != nil {
		return nil, err
	}
	v := repoValidator{t: doc, problems: problems}
	r := v.repo(&raw)
	for _, p := range v.problems {
		for _, k := range repoServerOnlyKeys {
			if p.Msg == fmt.Sprintf("unknown key %q", k) {
				p.Msg += " (roles, approvers and pass_env come only from the runner's server policy)"
			}
		}
	}
	if len(v.problems) == 0 {
		v.problems = append(v.problems, r.crossCheck()...)
	}
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, v.problems
	}
	return r, nil
}

type repoValidator struct {
	t        YAMLDoc
	problems RepoErrors
}

func (v *repoValidator) addf(line int, format string, args ...any) {
	v.problems = append(v.problems, &RepoProblem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *repoValidator) repo(raw *rawRepo) *Repo {
	r := &Repo{Notify: repoDefaultNotify(), lines: map[string]int{}, appsGiven: v.t.Has("apps"), Ignore: []string{DefaultIgnore}}
	r.Workflows = v.workflows(raw.Workflows)
	if raw.Ignore != nil {
		r.Ignore = nil
		for i, g := range raw.Ignore {
			c, err := v.glob(g)
			if err != nil {
				v.addf(v.t.Line("ignore", i), "ignore: %v", err)
				continue
			}
			r.Ignore = append(r.Ignore, c)
		}
	}
	r.Notify.Slack.Channel = raw.Notify.Slack.Channel
	v.slackChannel(raw.Notify.Slack.Channel, "notify", "slack", "channel")
	repoSetBool(&r.Notify.GitHub.Comments, raw.Notify.GitHub.Comments)
	repoSetBool(&r.Notify.GitHub.Statuses, raw.Notify.GitHub.Statuses)
	repoSetBool(&r.Notify.GitHub.Deployments, raw.Notify.GitHub.Deployments)

	seen := map[string]int{}
	for i := range raw.Environments {
		e, set := v.environment(i, &raw.Environments[i])
		line := v.t.Line("environments", i)
		if prev, dup := seen[e.Name]; dup && e.Name != "" {
			v.addf(v.t.Line("environments", i, "name"), "environment %q is already defined on line %d", e.Name, prev)
		} else {
			seen[e.Name] = line
			for k, l := range set {
				r.lines[repoExplicitKey(e.Name, k)] = l
			}
		}
		r.lines["env/"+e.Name] = v.t.Line("environments", i, "dir")
		if v.t.Has("environments", i, "projects") {
			for j := range e.Projects {
				r.lines[projectLineKey(e.Name, j)] = v.t.Line("environments", i, "projects", j, "dir")
			}
		}
		r.Environments = append(r.Environments, e)
	}
	if raw.Environments != nil && len(raw.Environments) == 0 && !v.t.Has("environments", 0) {
		v.addf(v.t.Line("environments"), "environments: empty list (omit the key to discover environments/*)")
	}

	seenApp := map[string]int{}
	for i := range raw.Apps {
		a := v.app(i, &raw.Apps[i])
		line := v.t.Line("apps", i)
		if prev, dup := seenApp[a.Name]; dup && a.Name != "" {
			v.addf(v.t.Line("apps", i, "name"), "app %q is already defined on line %d", a.Name, prev)
		} else {
			seenApp[a.Name] = line
		}
		r.lines["app/"+a.Name] = v.t.Line("apps", i, "path")
		r.Apps = append(r.Apps, a)
	}
	return r
}

func repoSetBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}

// environment validates one entry and returns it with the keys the entry itself set (see Repo.Explicit).
func (v *repoValidator) environment(i int, raw *rawEnvironment) (Environment, map[string]int) {
	at := func(p ...any) int { return v.t.Line(append([]any{"environments", i}, p...)...) }
	e := Environment{
		Name:            raw.Name,
		Dir:             raw.Dir,
		Order:           i + 1,
		Branch:          EnvironmentDefaultBranch,
		APIURL:          EnvironmentDefaultAPIURL,
		ArtifactsBucket: raw.ArtifactsBucket,
		SlackChannel:    raw.SlackChannel,
		Refresh:         repoDefaultRefresh(),
		Vars:            raw.Vars,
	}
	repoSetBool(&e.RequireApproval, raw.RequireApproval)
	switch {
	case raw.Name == "":
		v.addf(at(), "environments[%d]: name is required", i)
	case !repoNameRE.MatchString(raw.Name):
		v.addf(at("name"), "environment name %q: use lowercase letters, digits, '-' and '_' (at most 63)", raw.Name)
	}
	label := raw.Name
	if label == "" {
		label = fmt.Sprintf("environments[%d]", i)
	}
	if raw.Dir != "" {
		if d, err := repoCleanRel(raw.Dir); err != nil {
			v.addf(at("dir"), "environment %s: dir: %v", label, err)
		} else {
			e.Dir = d
		}
	}
	e.Workflow = raw.Workflow
	if e.Workflow == "" {
		e.Workflow = DefaultWorkflow
	}
	if raw.Order != nil {
		if *raw.Order < 0 {
			v.addf(at("order"), "environment %s: order must not be negative", label)
		}
		e.Order = *raw.Order
	}
	if raw.Branch != nil {
		if !repoValidBranch(*raw.Branch) {
			v.addf(at("branch"), "environment %s: branch %q is not a valid branch name", label, *raw.Branch)
		}
		e.Branch = strings.TrimPrefix(*raw.Branch, "refs/heads/")
	}
	if raw.APIURL != nil {
		e.APIURL = *raw.APIURL
		if !repoValidAPIURL(e.APIURL) {
			v.addf(at("api_url"), "environment %s: api_url %q must be a path starting with / or an http(s) URL", label, e.APIURL)
		}
	}
	if raw.ArtifactsBucket != "" && (!repoBucketRE.MatchString(raw.ArtifactsBucket) || strings.Contains(raw.ArtifactsBucket, "..")) {
		v.addf(at("artifacts_bucket"), "environment %s: artifacts_bucket %q is not a valid S3 bucket name", label, raw.ArtifactsBucket)
	}
	v.slackChannel(raw.SlackChannel, "environments", i, "slack_channel")
	keys := make([]string, 0, len(raw.Vars))
	for k := range raw.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := CheckVarName(k); err != nil {
			v.addf(at("vars", k), "environment %s: vars: %v", label, err)
		}
	}
	v.refresh(&e.Refresh, &raw.Refresh, label, func(p ...any) int { return at(append([]any{"refresh"}, p...)...) })
	v.environmentProjects(i, raw, &e, label)
	return e, v.explicit(raw, at)
}

// explicit lists the keys an environment entry set, with their lines. It reads the decoded values, not the
// document, so that a key set through a YAML merge key ("<<: *base") counts too.
func (v *repoValidator) explicit(raw *rawEnvironment, at func(...any) int) map[string]int {
	rf := raw.Refresh
	set := map[string]bool{
		"name": raw.Name != "", "dir": raw.Dir != "", "order": raw.Order != nil, "branch": raw.Branch != nil,
		"require_approval": raw.RequireApproval != nil, "api_url": raw.APIURL != nil,
		"artifacts_bucket": raw.ArtifactsBucket != "", "slack_channel": raw.SlackChannel != "",
		"refresh": rf.MinHealthyPercentage != nil || rf.InstanceWarmup != nil || rf.SkipMatching != nil ||
			rf.AutoRollback != nil || rf.InProgress != nil || rf.Timeout != nil,
		"vars": len(raw.Vars) > 0, "roots": raw.Roots != nil, "projects": raw.Projects != nil, "workflow": raw.Workflow != "",
	}
	out := map[string]int{}
	for k, ok := range set {
		if ok {
			out[k] = at(k)
		}
	}
	return out
}

func (v *repoValidator) refresh(r *Refresh, raw *rawRefresh, label string, at func(...any) int) {
	if p := raw.MinHealthyPercentage; p != nil {
		if *p < 0 || *p > 100 {
			v.addf(at("min_healthy_percentage"), "environment %s: refresh.min_healthy_percentage must be 0..100, not %d", label, *p)
		}
		r.MinHealthyPercentage = *p
	}
	if s := raw.InstanceWarmup; s != nil {
		d, err := repoDuration(*s)
		if err != nil {
			v.addf(at("instance_warmup"), "environment %s: refresh.instance_warmup: %v", label, err)
		}
		r.InstanceWarmup = d
	}
	repoSetBool(&r.SkipMatching, raw.SkipMatching)
	repoSetBool(&r.AutoRollback, raw.AutoRollback)
	if s := raw.InProgress; s != nil {
		if *s != RefreshWait && *s != RefreshCancel {
			v.addf(at("in_progress"), "environment %s: refresh.in_progress must be %q or %q, not %q", label, RefreshWait, RefreshCancel, *s)
		}
		r.InProgress = *s
	}
	if s := raw.Timeout; s != nil {
		d, err := repoDuration(*s)
		if err == nil && d == 0 {
			err = errors.New("must be more than 0")
		}
		if err != nil {
			v.addf(at("timeout"), "environment %s: refresh.timeout: %v", label, err)
		}
		r.Timeout = d
	}
}

func (v *repoValidator) app(i int, raw *rawApp) App {
	at := func(p ...any) int { return v.t.Line(append([]any{"apps", i}, p...)...) }
	a := App{
		Name:             raw.Name,
		Path:             raw.Path,
		Kind:             raw.Kind,
		Repository:       raw.Repository,
		Platforms:        raw.Platforms,
		BaseImage:        raw.BaseImage,
		CreateRepository: raw.CreateRepository,
		FailOnCritical:   raw.FailOnCritical,
	}
	switch {
	case raw.Name == "":
		v.addf(at(), "apps[%d]: name is required", i)
	case !repoNameRE.MatchString(raw.Name):
		v.addf(at("name"), "app name %q: use lowercase letters, digits, '-' and '_' (at most 63)", raw.Name)
	}
	label := raw.Name
	if label == "" {
		label = fmt.Sprintf("apps[%d]", i)
	}
	if raw.Path == "" {
		v.addf(at(), "app %s: path is required", label)
	} else if p, err := repoCleanRel(raw.Path); err != nil {
		v.addf(at("path"), "app %s: path: %v", label, err)
	} else {
		a.Path = p
	}
	switch raw.Kind {
	case AppKindImage:
		if a.Repository == "" {
			a.Repository = a.Name
		} else if !repoECRRE.MatchString(a.Repository) || len(a.Repository) > 256 {
			v.addf(at("repository"), "app %s: repository %q is not a valid ECR repository name", label, a.Repository)
		}
		if len(a.Platforms) == 0 {
			a.Platforms = []string{AppDefaultPlatform}
		}
		seen := map[string]bool{}
		for j, p := range a.Platforms {
			if !repoPlatformRE.MatchString(p) {
				v.addf(at("platforms", j), "app %s: platform %q is not os/arch[/variant]", label, p)
			} else if seen[p] {
				v.addf(at("platforms", j), "app %s: platform %q is listed twice", label, p)
			}
			seen[p] = true
		}
		if a.BaseImage == "" {
			a.BaseImage = AppDefaultBaseImage
		} else if strings.ContainsAny(a.BaseImage, " \t\n") {
			v.addf(at("base_image"), "app %s: base_image %q is not an image reference", label, a.BaseImage)
		}
		if raw.Migrate != nil {
			a.Migrate = v.migrate(label, raw.Migrate.Command, raw.Migrate.Output, func(p ...any) int { return at(append([]any{"migrate"}, p...)...) })
		}
	case AppKindBundle:
		for _, k := range []string{"repository", "platforms", "base_image", "create_repository", "fail_on_critical", "migrate"} {
			if v.t.Has("apps", i, k) {
				v.addf(at(k), "app %s: %s applies only to kind %q", label, k, AppKindImage)
			}
		}
	case "":
		v.addf(at(), "app %s: kind is required (%q or %q)", label, AppKindImage, AppKindBundle)
	default:
		v.addf(at("kind"), "app %s: kind must be %q or %q, not %q", label, AppKindImage, AppKindBundle, raw.Kind)
	}
	return a
}

// migrate checks an image app's migrate block.
func (v *repoValidator) migrate(label string, command []string, output string, at func(p ...any) int) *Migrate {
	m := &Migrate{Command: command, Output: output}
	if len(command) == 0 {
		v.addf(at(), "app %s: migrate.command is required (the container's command that migrates, e.g. [migrate])", label)
	}
	if len(command) > 32 {
		v.addf(at("command"), "app %s: migrate.command has %d arguments; at most 32", label, len(command))
	}
	for j, arg := range command {
		if arg == "" || len(arg) > 1024 || strings.ContainsRune(arg, 0) {
			v.addf(at("command", j), "app %s: migrate.command[%d] must be 1-1024 characters", label, j)
		}
	}
	if m.Output == "" {
		m.Output = MigrateDefaultOutput
	} else if !repoOutputRE.MatchString(m.Output) {
		v.addf(at("output"), "app %s: migrate.output %q is not a Terraform output name", label, m.Output)
	}
	return m
}

func (v *repoValidator) slackChannel(ch string, p ...any) {
	if ch != "" && (strings.ContainsAny(ch, " \t\n,") || len(ch) > 80) {
		v.addf(v.t.Line(p...), "slack channel %q is not a channel name or ID", ch)
	}
}

// repoCleanRel checks that p is a relative path inside the repository and returns it cleaned.
func repoCleanRel(p string) (string, error) {
	if strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q: use forward slashes", p)
	}
	if path.IsAbs(p) {
		return "", fmt.Errorf("%q must be relative to the repository root", p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q is outside the repository", p)
	}
	if c == ".git" || strings.HasPrefix(c, ".git/") {
		return "", fmt.Errorf("%q is inside .git", p)
	}
	return c, nil
}

func repoDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like \"60s\" or \"5m\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q must not be negative", s)
	}
	return d, nil
}

func repoValidBranch(b string) bool {
	b = strings.TrimPrefix(b, "refs/heads/")
	if b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, ".") || strings.Contains(b, "..") ||
		strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	for _, r := range b {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	return true
}

func repoValidAPIURL(s string) bool {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return !strings.ContainsAny(s, " \t\n\"'`")
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
