package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Server is the runner process's configuration, from flags and environment
// variables (a flag wins over its variable). It is read once, at start.
type Server struct {
	Listen string
	// MetricsListen, when set, serves /metrics on its own address (without the API token) instead of
	// on Listen (where it needs the API token when one is set).
	MetricsListen   string
	PublicURL       string // base URL of this runner, for links in comments and Slack
	WebhookSecret   string
	APIToken        string // guards the API and dashboard when set (health endpoints and webhooks stay open)
	DataDir         string
	AllowedRepos    []string
	Workers         int
	PlanParallelism int
	StageTimeout    time.Duration
	ShutdownGrace   time.Duration
	// TerraformLockTimeout is how long plan and apply wait for a Terraform state lock held by others.
	TerraformLockTimeout time.Duration
	LockLease            time.Duration

	GitHubToken          string
	GitHubAppID          int64
	GitHubInstallationID int64
	GitHubAppKeyFile     string
	GitHubAPIURL         string

	// GitTransport is how mirrors fetch: "auto" (the git CLI when git 2.31 or later is on PATH, else
	// go-git), "git" or "go-git".
	GitTransport string
	// FullWorkTrees writes every file of the commit for pull-request plans too (default: only what the
	// plans need, see the README's "Work trees").
	FullWorkTrees bool

	TerraformBin string
	// TerraformBins are other Terraform binaries (absolute paths) that projects pinning their version
	// (terraform_version in .runner.yaml) may use, within the server policy's terraform_versions.
	TerraformBins []string
	// TFLintBin is the tflint binary of workflows' tflint steps ("" looks for tflint on PATH).
	TFLintBin string
	// PolicyDir holds the operator's own Open Policy Agent policies (.rego), checked by every policy step.
	PolicyDir      string
	PluginCacheDir string
	// TerraformCLIConfig is the operator's Terraform CLI configuration (trusted), the base of the one
	// the runner gives Terraform; default: TF_CLI_CONFIG_FILE.
	TerraformCLIConfig string

	// ReplayWindow is how long a delivery's content blocks a second run of the same content.
	ReplayWindow time.Duration
	// DatabaseURL, a postgres:// URL, puts the store and the queue on PostgreSQL, which several replicas
	// share; "" keeps SQLite in DataDir (one process).
	DatabaseURL string
	// DatabaseMaxConns bounds each replica's PostgreSQL connections.
	DatabaseMaxConns int
	// DatabaseStatementTimeout bounds every PostgreSQL statement (statement_timeout); 0 turns it off.
	DatabaseStatementTimeout time.Duration
	// QueueLogEvery is how often the runner logs its queue (runs waiting and running, the oldest one's age),
	// for metrics read from logs such as CloudWatch's metric filters; 0 turns it off.
	QueueLogEvery time.Duration
	// DatabaseCredentialCheck is how often a fresh PostgreSQL connection tests the credentials; when they
	// are refused (the secret was rotated), the runner shuts down gracefully and exits non-zero, so that
	// its supervisor starts one that reads the current secret. 0 turns it off.
	DatabaseCredentialCheck time.Duration
	// UnverifiedBudgetMiB bounds the memory held by webhook bodies whose signature is not yet checked.
	UnverifiedBudgetMiB int
	// AllowedHosts are more Host names the API and dashboard answer without a token.
	AllowedHosts []string
	// OIDCIssuer, when set, turns on single sign-on to the dashboard with OpenID Connect (besides the
	// token); OIDCClientID and OIDCClientSecret are the runner's client at that provider.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	// OIDCLoginClaim names the ID token claim that holds the person's GitHub login, the actor of actions.
	OIDCLoginClaim string
	// OIDCAllowedLogins, when not empty, are the only GitHub logins that may sign in.
	OIDCAllowedLogins []string

	// ReposConfig is the server-side repository policy file (RUNNER_REPOS_CONFIG; see internal/policy).
	ReposConfig string
	// ReposConfigYAML is that policy's text itself (RUNNER_REPOS_CONFIG_YAML), for a runner whose files
	// are an image's, such as an ECS task's; at most one of the two is set.
	ReposConfigYAML string
	// Policies are the operator's Open Policy Agent policies given as text (RUNNER_POLICIES_JSON, an
	// object of file name to rego source): the runner writes them into a folder of its data directory and
	// checks them like RUNNER_POLICY_DIR's, which must then be unset.
	Policies map[string]string
	// AllowForkPRs plans pull requests from forks where the policy does not say (default false).
	AllowForkPRs bool

	// Sandbox is the isolation wanted for Terraform: auto, namespaces, user, bwrap or off.
	Sandbox string
	// SandboxLauncher is the sandbox's launcher executable (default: runner-sandbox beside the
	// runner's executable when present, else the runner's own executable).
	SandboxLauncher string
	// UnsafeUnisolatedPlans lets pull requests be planned when Terraform cannot run isolated.
	UnsafeUnisolatedPlans bool
	// TerraformEnv is what Terraform takes of the runner's own environment: locale, time zone,
	// proxies and CA bundle locations. Nothing else of it (no credentials) reaches Terraform.
	TerraformEnv map[string]string
	// SandboxReadOnly and SandboxReadWrite are extra paths sandboxed Terraform may see (read-only) or
	// write, such as a local state directory.
	SandboxReadOnly, SandboxReadWrite []string

	SlackToken      string
	SlackWebhookURL string
	SlackChannel    string
	SlackAPIURL     string
	// SlackSigningSecret checks the requests Slack's buttons send to /slack/interactions; without it the
	// endpoint is off and approvals are not offered as Slack buttons.
	SlackSigningSecret string

	// CommandPrefix starts pull request comment commands ("/runner").
	CommandPrefix string
	// ApprovalTimeout is how long a deploy waits for approval where the repository policy does not say.
	ApprovalTimeout time.Duration
	// ApprovalPoll is how often a waiting deploy looks at its approval besides being woken by a decision.
	ApprovalPoll time.Duration

	AWSRegion        string
	AWSEndpoint      string        // one endpoint for every AWS API (stand-ins, LocalStack-style); empty = AWS
	RolloutPoll      time.Duration // first poll interval of rollout and scan waits
	RegistryInsecure bool

	LogLevel string
	LogJSON  bool
}

// Secrets lists the configured secret values, for masking them out of logs and posts.
func (s Server) Secrets() []string {
	var out []string
	for _, v := range []string{s.WebhookSecret, s.APIToken, s.GitHubToken, s.SlackToken, s.SlackWebhookURL, s.SlackSigningSecret,
		s.OIDCClientSecret, s.DatabaseURL, databasePassword(s.DatabaseURL)} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// LoadServer parses flags (args without the program and sub-command) and
// environment variables, and validates every value. All problems are reported
// together, one per line.
func LoadServer(args []string, getenv func(string) string) (Server, error) {
	var s Server
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var problems []string
	// A bad variable is reported unless its flag is given (a flag wins over its variable).
	type envProblem struct{ flag, text string }
	var envProblems []envProblem
	bad := func(flagName, text string) { envProblems = append(envProblems, envProblem{flagName, text}) }
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	// Secrets never become flag defaults: `serve -h` would print them.
	var secrets []func()
	secret := func(p *string, name, envName, usage string) {
		fs.StringVar(p, name, "", usage+" ("+envName+"; prefer the variable: flags show in ps)")
		secrets = append(secrets, func() {
			if *p == "" {
				*p = getenv(envName)
			}
		})
	}
	str := func(p *string, name, envName, def, usage string) {
		fs.StringVar(p, name, env(envName, def), usage+" ("+envName+")")
	}
	dur := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		v := env(envName, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, fmt.Sprintf("%s=%q: want a positive duration such as 30s or 2h", envName, v))
			d = def
		}
		fs.DurationVar(p, name, d, usage+" ("+envName+")")
	}
	// durOff is dur for a setting that 0 turns off.
	durOff := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		v := env(envName, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad(name, fmt.Sprintf("%s=%q: want 0 (off) or a positive duration such as 30s or 2h", envName, v))
			d = def
		}
		fs.DurationVar(p, name, d, usage+" ("+envName+")")
	}
	num := func(p *int, name, envName string, def int, usage string) {
		v := env(envName, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad(name, fmt.Sprintf("%s=%q: want a positive whole number", envName, v))
			n = def
		}
		fs.IntVar(p, name, n, usage+" ("+envName+")")
	}
	id := func(p *int64, name, envName, usage string) {
		v := env(envName, "0")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			bad(name, fmt.Sprintf("%s=%q: want a numeric id", envName, v))
			n = 0
		}
		fs.Int64Var(p, name, n, usage+" ("+envName+")")
	}
	boolean := func(p *bool, name, envName string, usage string) {
		v := env(envName, "false")
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, fmt.Sprintf("%s=%q: want true or false", envName, v))
		}
		fs.BoolVar(p, name, b, usage+" ("+envName+")")
	}
	var allowed, policiesJSON string
	str(&s.Listen, "listen", "RUNNER_LISTEN", ":8080", "address to listen on")
	str(&s.MetricsListen, "metrics-listen", "RUNNER_METRICS_LISTEN", "", "serve /metrics on this address alone, without the API token (default: on the main address, behind the API token)")
	str(&s.PublicURL, "public-url", "RUNNER_PUBLIC_URL", "", "base URL of this runner for links")
	secret(&s.WebhookSecret, "webhook-secret", "RUNNER_WEBHOOK_SECRET", "GitHub webhook secret (required)")
	secret(&s.APIToken, "api-token", "RUNNER_API_TOKEN", "token required by the API and dashboard (Bearer, or Basic with any user)")
	str(&s.OIDCIssuer, "oidc-issuer", "RUNNER_OIDC_ISSUER", "", "OpenID Connect issuer URL: turns on single sign-on to the dashboard (needs RUNNER_PUBLIC_URL and RUNNER_API_TOKEN)")
	str(&s.OIDCClientID, "oidc-client-id", "RUNNER_OIDC_CLIENT_ID", "", "the runner's OpenID Connect client id")
	secret(&s.OIDCClientSecret, "oidc-client-secret", "RUNNER_OIDC_CLIENT_SECRET", "the runner's OpenID Connect client secret (empty for a public client)")
	str(&s.OIDCLoginClaim, "oidc-login-claim", "RUNNER_OIDC_LOGIN_CLAIM", "preferred_username", "ID token claim holding the person's GitHub login, the actor of their actions")
	var oidcAllowed string
	str(&oidcAllowed, "oidc-allowed-logins", "RUNNER_OIDC_ALLOWED_LOGINS", "", "comma-separated GitHub logins that may sign in (default: whoever the provider signs in)")
	str(&s.DataDir, "data-dir", "RUNNER_DATA_DIR", "./runner-data", "directory for the database, mirrors and work trees")
	str(&allowed, "allowed-repos", "RUNNER_ALLOWED_REPOS", "", "comma-separated owner/name globs of repositories to act on")
	num(&s.Workers, "workers", "RUNNER_WORKERS", 4, "runs worked at once")
	secret(&s.DatabaseURL, "database-url", "RUNNER_DATABASE_URL", "postgres:// URL: store and queue on PostgreSQL, shared by several replicas (default: SQLite in the data directory)")
	num(&s.DatabaseMaxConns, "database-max-conns", "RUNNER_DATABASE_MAX_CONNS", 10, "PostgreSQL connections of this replica at most")
	durOff(&s.DatabaseStatementTimeout, "database-statement-timeout", "RUNNER_DATABASE_STATEMENT_TIMEOUT", 30*time.Second,
		"longest a PostgreSQL statement may run (0: no limit; a statement_timeout in the URL's options wins)")
	durOff(&s.QueueLogEvery, "queue-log-every", "RUNNER_QUEUE_LOG_EVERY", time.Minute,
		`how often to log the queue (msg "queue": waiting, running, oldest_queued_seconds) for log-based metrics such as CloudWatch's (0: never)`)
	durOff(&s.DatabaseCredentialCheck, "database-credential-check", "RUNNER_DATABASE_CREDENTIAL_CHECK", time.Minute,
		"how often a fresh PostgreSQL connection tests the password; refused (rotated), the runner drains and exits 1 so that a new task reads the current secret (0: off)")
	num(&s.PlanParallelism, "plan-parallelism", "RUNNER_PLAN_PARALLELISM", 3, "environments planned at once per pull request")
	dur(&s.StageTimeout, "stage-timeout", "RUNNER_STAGE_TIMEOUT", 45*time.Minute, "longest a stage may run")
	dur(&s.TerraformLockTimeout, "terraform-lock-timeout", "RUNNER_TERRAFORM_LOCK_TIMEOUT", 2*time.Minute, "how long plan and apply wait for a state lock that others hold")
	dur(&s.ShutdownGrace, "shutdown-grace", "RUNNER_SHUTDOWN_GRACE", 60*time.Second, "time given to the stage in flight on SIGTERM")
	dur(&s.LockLease, "lock-lease", "RUNNER_LOCK_LEASE", 2*time.Minute, "environment lock lease (renewed while held)")
	secret(&s.GitHubToken, "github-token", "GITHUB_TOKEN", "GitHub token (clone and API)")
	id(&s.GitHubAppID, "github-app-id", "GITHUB_APP_ID", "GitHub App id")
	id(&s.GitHubInstallationID, "github-installation-id", "GITHUB_INSTALLATION_ID", "GitHub App installation id")
	str(&s.GitHubAppKeyFile, "github-app-key", "GITHUB_APP_PRIVATE_KEY_FILE", "", "GitHub App private key (PEM file)")
	str(&s.GitHubAPIURL, "github-api-url", "RUNNER_GITHUB_API_URL", "", "GitHub API base URL (GitHub Enterprise)")
	boolean(&s.FullWorkTrees, "full-work-trees", "RUNNER_FULL_WORK_TREES", "write every file of the commit for pull-request plans too (default: only what the plans need)")
	str(&s.GitTransport, "git-transport", "RUNNER_GIT_TRANSPORT", "auto", "how mirrors fetch: auto (the git CLI when git 2.31+ is on PATH, else go-git), git or go-git")
	str(&s.TerraformBin, "terraform", "RUNNER_TERRAFORM_BIN", "", "terraform or tofu binary (default: terraform, then tofu, on PATH)")
	str(&s.TFLintBin, "tflint", "RUNNER_TFLINT_BIN", "", "tflint binary for workflows' tflint steps (default: tflint on PATH)")
	str(&s.PolicyDir, "policy-dir", "RUNNER_POLICY_DIR", "", "folder of the operator's Open Policy Agent policies (.rego), checked by every policy step")
	var tfBins string
	str(&tfBins, "terraform-bins", "RUNNER_TERRAFORM_BINS", "", "comma-separated absolute paths of other Terraform versions, for projects that pin terraform_version")
	str(&s.PluginCacheDir, "plugin-cache", "TF_PLUGIN_CACHE_DIR", "", "shared Terraform plugin cache (default: DATA_DIR/plugin-cache)")
	str(&s.TerraformCLIConfig, "terraform-cli-config", "RUNNER_TERRAFORM_CLI_CONFIG", getenv("TF_CLI_CONFIG_FILE"), "the operator's Terraform CLI configuration, the base of the runner's own (default: TF_CLI_CONFIG_FILE)")
	dur(&s.ReplayWindow, "replay-window", "RUNNER_REPLAY_WINDOW", 7*24*time.Hour, "how long the same delivery content under a new delivery id is a replay (no second run)")
	num(&s.UnverifiedBudgetMiB, "unverified-budget-mib", "RUNNER_WEBHOOK_UNVERIFIED_BUDGET_MIB", 64, "MiB all webhook bodies not yet verified may hold at once (at least the 25 MiB body cap)")
	var allowedHosts string
	str(&allowedHosts, "allowed-hosts", "RUNNER_ALLOWED_HOSTS", "", "comma-separated extra Host names the API and dashboard answer without a token")
	str(&s.ReposConfig, "repos-config", "RUNNER_REPOS_CONFIG", "", "server-side repository policy (YAML): roles, approvals, deploy branches, who may plan, allowed overrides")
	str(&s.ReposConfigYAML, "repos-config-yaml", "RUNNER_REPOS_CONFIG_YAML", "", "the server-side repository policy's YAML itself, instead of RUNNER_REPOS_CONFIG's file (for a task definition)")
	str(&policiesJSON, "policies-json", "RUNNER_POLICIES_JSON", "", `the operator's OPA policies as a JSON object {"name.rego": "source"}, instead of RUNNER_POLICY_DIR (for a task definition)`)
	boolean(&s.AllowForkPRs, "allow-fork-prs", "RUNNER_ALLOW_FORK_PRS", "plan pull requests from forks (where the repository policy does not say)")
	str(&s.Sandbox, "sandbox", "RUNNER_SANDBOX", "auto", "isolation of Terraform: auto (strongest available), namespaces, user, bwrap (bubblewrap, when not root) or off")
	str(&s.SandboxLauncher, "sandbox-launcher", "RUNNER_SANDBOX_LAUNCHER", "", "the sandbox's launcher (default: runner-sandbox beside the runner when present, else the runner itself, which starts slower)")
	boolean(&s.UnsafeUnisolatedPlans, "unsafe-unisolated-plans", "RUNNER_UNSAFE_UNISOLATED_PLANS", "plan pull requests even when Terraform cannot run isolated (their code can then read the runner's secrets)")
	var sandboxRO, sandboxRW string
	str(&sandboxRO, "sandbox-read-only", "RUNNER_SANDBOX_READ_ONLY", "", "comma-separated absolute paths sandboxed Terraform may read")
	str(&sandboxRW, "sandbox-read-write", "RUNNER_SANDBOX_READ_WRITE", "", "comma-separated absolute paths sandboxed Terraform may write (e.g. a local state directory)")
	secret(&s.SlackToken, "slack-token", "SLACK_BOT_TOKEN", "Slack bot token")
	secret(&s.SlackWebhookURL, "slack-webhook", "SLACK_WEBHOOK_URL", "Slack incoming webhook URL (instead of a bot token)")
	str(&s.SlackChannel, "slack-channel", "SLACK_CHANNEL", "", "default Slack channel")
	str(&s.SlackAPIURL, "slack-api-url", "SLACK_API_URL", "", "Slack API base URL (tests)")
	secret(&s.SlackSigningSecret, "slack-signing-secret", "SLACK_SIGNING_SECRET", "Slack app signing secret: turns on approval buttons (POST /slack/interactions)")
	str(&s.CommandPrefix, "command-prefix", "RUNNER_COMMAND_PREFIX", "/runner", "how pull request comment commands start")
	dur(&s.ApprovalTimeout, "approval-timeout", "RUNNER_APPROVAL_TIMEOUT", 24*time.Hour, "how long a deploy waits for approval (a repository policy's approval_timeout wins)")
	dur(&s.ApprovalPoll, "approval-poll", "RUNNER_APPROVAL_POLL", time.Minute, "how often a deploy waiting for approval looks at it besides being woken by a decision")
	str(&s.AWSRegion, "aws-region", "AWS_REGION", "", "AWS region (default: the SDK's, from AWS_DEFAULT_REGION or the profile; else us-east-1)")
	str(&s.AWSEndpoint, "aws-endpoint", "RUNNER_AWS_ENDPOINT", "", "one endpoint URL for every AWS API (stand-ins)")
	dur(&s.RolloutPoll, "rollout-poll", "RUNNER_ROLLOUT_POLL", 5*time.Second, "first poll interval of instance refresh, ECS and scan waits")
	boolean(&s.RegistryInsecure, "registry-insecure", "RUNNER_REGISTRY_INSECURE", "talk plain HTTP to the registry (127.0.0.1 stand-ins)")
	str(&s.LogLevel, "log-level", "RUNNER_LOG_LEVEL", "info", "debug, info, warn or error")
	boolean(&s.LogJSON, "log-json", "RUNNER_LOG_JSON", "log as JSON lines")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Server{}, err
		}
		// flag stops at its first error: report it with every bad variable.
		problems = append(problems, err.Error())
		for _, p := range envProblems {
			problems = append(problems, p.text)
		}
		return Server{}, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, p := range envProblems {
		if !given[p.flag] {
			problems = append(problems, p.text)
		}
	}
	for _, fill := range secrets {
		fill()
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	for _, k := range terraformEnvNames {
		if v := getenv(k); v != "" {
			if s.TerraformEnv == nil {
				s.TerraformEnv = map[string]string{}
			}
			s.TerraformEnv[k] = v
		}
	}
	if !given["terraform-cli-config"] && getenv("RUNNER_TERRAFORM_CLI_CONFIG") == "" && s.TerraformCLIConfig != "" {
		// Only inherited from TF_CLI_CONFIG_FILE: Terraform itself carries on without a missing file.
		if _, err := os.Stat(s.TerraformCLIConfig); err != nil {
			s.TerraformCLIConfig = ""
		}
	}
	s.AllowedRepos = splitList(allowed)
	s.TerraformBins = splitList(tfBins)
	s.SandboxReadOnly, s.SandboxReadWrite = splitList(sandboxRO), splitList(sandboxRW)
	s.AllowedHosts = splitList(allowedHosts)
	s.OIDCAllowedLogins = splitList(oidcAllowed)
	if policiesJSON != "" {
		pol, err := parsePolicies(policiesJSON)
		if err != nil {
			problems = append(problems, "RUNNER_POLICIES_JSON: "+err.Error())
		}
		s.Policies = pol
	}
	problems = append(problems, s.validate()...)
	if len(problems) > 0 {
		return Server{}, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	// Terraform and npm run in other directories than the runner's: every path
	// they are given must be absolute.
	for _, p := range []*string{&s.DataDir, &s.PluginCacheDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return Server{}, fmt.Errorf("invalid configuration:\n  %q: %w", *p, err)
		}
		*p = abs
	}
	if s.PluginCacheDir == "" {
		s.PluginCacheDir = filepath.Join(s.DataDir, "plugin-cache")
	}
	return s, nil
}

func (s Server) validate() []string {
	var p []string
	if s.WebhookSecret == "" {
		p = append(p, "RUNNER_WEBHOOK_SECRET is required: the runner refuses unsigned webhooks")
	} else if len(s.WebhookSecret) < 16 {
		p = append(p, "RUNNER_WEBHOOK_SECRET is shorter than 16 characters: use a long random value")
	}
	if p0 := s.CommandPrefix; p0 == "" || strings.ContainsAny(p0, " \t\r\n`") || len(p0) > 32 {
		p = append(p, fmt.Sprintf("RUNNER_COMMAND_PREFIX=%q: want one word of at most 32 characters, such as /runner", p0))
	}
	if s.SlackSigningSecret != "" && len(s.SlackSigningSecret) < 16 {
		p = append(p, "SLACK_SIGNING_SECRET is shorter than 16 characters: copy it from the Slack app's Basic Information page")
	}
	if s.APIToken != "" && len(s.APIToken) < 16 {
		p = append(p, "RUNNER_API_TOKEN is shorter than 16 characters: use a long random value")
	}
	switch strings.ToLower(s.GitTransport) {
	case "", "auto", "git", "go-git":
	default:
		p = append(p, fmt.Sprintf("RUNNER_GIT_TRANSPORT=%q: want auto, git or go-git", s.GitTransport))
	}
	p = append(p, s.validateOIDC()...)
	if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		p = append(p, fmt.Sprintf("RUNNER_LISTEN=%q: want host:port such as :8080 (%v)", s.Listen, err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p = append(p, fmt.Sprintf("RUNNER_LISTEN=%q: port must be 0-65535", s.Listen))
	}
	if s.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(s.MetricsListen); err != nil {
			p = append(p, fmt.Sprintf("RUNNER_METRICS_LISTEN=%q: want host:port such as 127.0.0.1:9090 (%v)", s.MetricsListen, err))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p = append(p, fmt.Sprintf("RUNNER_METRICS_LISTEN=%q: port must be 0-65535", s.MetricsListen))
		} else if s.MetricsListen == s.Listen && n != 0 {
			p = append(p, fmt.Sprintf("RUNNER_METRICS_LISTEN=%q is RUNNER_LISTEN: leave it empty to serve /metrics there", s.MetricsListen))
		}
	}
	if s.DataDir == "" {
		p = append(p, "RUNNER_DATA_DIR must not be empty")
	}
	// Bad environment values were reported (and replaced by defaults) while parsing;
	// these catch the same mistakes made with flags.
	for _, n := range []struct {
		flag, env string
		v         int
	}{{"workers", "RUNNER_WORKERS", s.Workers}, {"plan-parallelism", "RUNNER_PLAN_PARALLELISM", s.PlanParallelism}} {
		if n.v <= 0 {
			p = append(p, fmt.Sprintf("-%s=%d (%s): want a positive whole number", n.flag, n.v, n.env))
		}
	}
	for _, d := range []struct {
		flag, env string
		v         time.Duration
	}{{"stage-timeout", "RUNNER_STAGE_TIMEOUT", s.StageTimeout}, {"shutdown-grace", "RUNNER_SHUTDOWN_GRACE", s.ShutdownGrace},
		{"terraform-lock-timeout", "RUNNER_TERRAFORM_LOCK_TIMEOUT", s.TerraformLockTimeout},
		{"lock-lease", "RUNNER_LOCK_LEASE", s.LockLease}, {"rollout-poll", "RUNNER_ROLLOUT_POLL", s.RolloutPoll},
		{"approval-timeout", "RUNNER_APPROVAL_TIMEOUT", s.ApprovalTimeout}, {"approval-poll", "RUNNER_APPROVAL_POLL", s.ApprovalPoll}} {
		if d.v <= 0 {
			p = append(p, fmt.Sprintf("-%s=%s (%s): want a positive duration", d.flag, d.v, d.env))
		}
	}
	for _, n := range []struct {
		flag, env string
		v         int64
	}{{"github-app-id", "GITHUB_APP_ID", s.GitHubAppID}, {"github-installation-id", "GITHUB_INSTALLATION_ID", s.GitHubInstallationID}} {
		if n.v < 0 {
			p = append(p, fmt.Sprintf("-%s=%d (%s): want a numeric id", n.flag, n.v, n.env))
		}
	}
	if len(s.AllowedRepos) == 0 {
		p = append(p, "RUNNER_ALLOWED_REPOS is empty: name the repositories to act on, e.g. my-org/* or my-org/infra")
	}
	for _, r := range s.AllowedRepos {
		if strings.Count(r, "/") != 1 {
			p = append(p, fmt.Sprintf("RUNNER_ALLOWED_REPOS entry %q: want owner/name (globs allowed)", r))
			continue
		}
		if _, err := path.Match(r, "a/b"); err != nil {
			p = append(p, fmt.Sprintf("RUNNER_ALLOWED_REPOS entry %q: bad pattern", r))
		}
	}
	if (s.GitHubAppID != 0) != (s.GitHubAppKeyFile != "") {
		p = append(p, "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE go together")
	}
	if s.GitHubAppID != 0 && s.GitHubInstallationID == 0 {
		p = append(p, "GITHUB_INSTALLATION_ID is required with GITHUB_APP_ID")
	}
	if s.GitHubAppKeyFile != "" {
		if _, err := os.Stat(s.GitHubAppKeyFile); err != nil {
			p = append(p, fmt.Sprintf("GITHUB_APP_PRIVATE_KEY_FILE: %v", err))
		}
	}
	for _, u := range []struct{ name, value string }{
		{"RUNNER_GITHUB_API_URL", s.GitHubAPIURL}, {"RUNNER_PUBLIC_URL", s.PublicURL}, {"SLACK_WEBHOOK_URL", s.SlackWebhookURL},
		{"SLACK_API_URL", s.SlackAPIURL}, {"RUNNER_AWS_ENDPOINT", s.AWSEndpoint},
	} {
		if u.value != "" && !strings.HasPrefix(u.value, "http://") && !strings.HasPrefix(u.value, "https://") {
			p = append(p, fmt.Sprintf("%s must be an http(s) URL", u.name))
		}
	}
	if s.DatabaseURL != "" && !strings.HasPrefix(s.DatabaseURL, "postgres://") && !strings.HasPrefix(s.DatabaseURL, "postgresql://") {
		p = append(p, "RUNNER_DATABASE_URL must be a postgres:// URL")
	}
	if s.ReposConfig != "" && s.ReposConfigYAML != "" {
		p = append(p, "RUNNER_REPOS_CONFIG and RUNNER_REPOS_CONFIG_YAML: set one of them")
	}
	if s.PolicyDir != "" && len(s.Policies) > 0 {
		p = append(p, "RUNNER_POLICY_DIR and RUNNER_POLICIES_JSON: set one of them")
	}
	if s.DatabaseCredentialCheck < 0 {
		p = append(p, fmt.Sprintf("RUNNER_DATABASE_CREDENTIAL_CHECK=%s: want 0 (off) or a positive duration", s.DatabaseCredentialCheck))
	}
	if s.DatabaseStatementTimeout < 0 {
		p = append(p, fmt.Sprintf("RUNNER_DATABASE_STATEMENT_TIMEOUT=%s: want 0 (no limit) or a positive duration", s.DatabaseStatementTimeout))
	}
	if s.DatabaseMaxConns < 2 {
		p = append(p, fmt.Sprintf("RUNNER_DATABASE_MAX_CONNS=%d: want at least 2", s.DatabaseMaxConns))
	}
	switch s.Sandbox {
	case "auto", "namespaces", "user", "bwrap", "off":
	default:
		p = append(p, fmt.Sprintf("RUNNER_SANDBOX=%q: want auto, namespaces, user, bwrap or off", s.Sandbox))
	}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"RUNNER_SANDBOX_READ_ONLY", s.SandboxReadOnly}, {"RUNNER_SANDBOX_READ_WRITE", s.SandboxReadWrite}, {"RUNNER_TERRAFORM_BINS", s.TerraformBins}} {
		for _, path := range l.paths {
			if !filepath.IsAbs(path) {
				p = append(p, fmt.Sprintf("%s entry %q: want an absolute path", l.name, path))
			}
		}
	}
	switch strings.ToLower(s.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("RUNNER_LOG_LEVEL=%q: want debug, info, warn or error", s.LogLevel))
	}
	return p
}

// validateOIDC checks single sign-on's settings: all or nothing, an https issuer (plain http only on
// loopback, for tests), and what sign-on relies on: the public URL for the redirect and the API token
// for the session cookies' key.
func (s Server) validateOIDC() []string {
	if s.OIDCIssuer == "" {
		if s.OIDCClientID != "" || s.OIDCClientSecret != "" || len(s.OIDCAllowedLogins) > 0 {
			return []string{"RUNNER_OIDC_CLIENT_ID, RUNNER_OIDC_CLIENT_SECRET and RUNNER_OIDC_ALLOWED_LOGINS need RUNNER_OIDC_ISSUER: set it to turn on single sign-on"}
		}
		return nil
	}
	var p []string
	for _, l := range s.OIDCAllowedLogins {
		if !githubLogin.MatchString(l) {
			p = append(p, fmt.Sprintf("RUNNER_OIDC_ALLOWED_LOGINS entry %q: want a GitHub login", l))
		}
	}
	if u, err := url.Parse(s.OIDCIssuer); err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		p = append(p, fmt.Sprintf("RUNNER_OIDC_ISSUER=%q: want the provider's issuer URL, such as https://accounts.example.com", s.OIDCIssuer))
	} else if u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname())) {
		p = append(p, fmt.Sprintf("RUNNER_OIDC_ISSUER=%q: must be https (plain http only on a loopback address)", s.OIDCIssuer))
	}
	if s.OIDCClientID == "" {
		p = append(p, "RUNNER_OIDC_CLIENT_ID is required with RUNNER_OIDC_ISSUER: the client id registered at the provider")
	}
	if s.PublicURL == "" {
		p = append(p, "RUNNER_OIDC_ISSUER needs RUNNER_PUBLIC_URL: the provider sends people back to RUNNER_PUBLIC_URL/auth/callback")
	}
	if s.APIToken == "" {
		p = append(p, "RUNNER_OIDC_ISSUER needs RUNNER_API_TOKEN: the session cookies' key is derived from it")
	}
	if c := s.OIDCLoginClaim; c == "" || strings.ContainsFunc(c, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p = append(p, fmt.Sprintf("RUNNER_OIDC_LOGIN_CLAIM=%q: want a claim name such as preferred_username", c))
	}
	return p
}

// githubLogin is the syntax of a GitHub user's login.
var githubLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// loopbackHost reports whether a URL's host is a loopback address or localhost.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// terraformEnvNames are the runner's variables Terraform may inherit: none holds a credential the
// runner owns (a proxy URL with a password is the operator's choice to give Terraform).
var terraformEnvNames = []string{
	"LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// databasePassword is the password of a database URL, "" when it has none.
func databasePassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// DatabaseDescription names the store a server uses, for its log: the driver, host and database, never
// the password.
func (s Server) DatabaseDescription() string {
	if s.DatabaseURL == "" {
		return "sqlite " + filepath.Join(s.DataDir, "runner.db")
	}
	u, err := url.Parse(s.DatabaseURL)
	if err != nil {
		return "postgres (unparseable URL)"
	}
	return "postgres " + u.Host + u.Path
}

// maxPolicies bounds RUNNER_POLICIES_JSON: a task definition holds 64 KiB at most anyway.
const maxPolicies = 256

// parsePolicies reads RUNNER_POLICIES_JSON: an object of plain .rego file names (no folders) to their
// sources.
func parsePolicies(text string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("want a JSON object of file name to rego source: %w", err)
	}
	if len(m) > maxPolicies {
		return nil, fmt.Errorf("%d policies: at most %d", len(m), maxPolicies)
	}
	for name := range m {
		if !policyName.MatchString(name) || name == ".rego" {
			return nil, fmt.Errorf("policy name %q: want a plain file name ending in .rego (letters, digits, '.', '_', '-')", name)
		}
	}
	return m, nil
}

var policyName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\.rego$`)
