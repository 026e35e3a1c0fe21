package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

const secret = "0123456789abcdef0123456789abcdef"

// getenv serves variables from a map, starting from the two the runner requires.
func getenv(vars map[string]string) func(string) string {
	all := map[string]string{"RUNNER_WEBHOOK_SECRET": secret, "RUNNER_ALLOWED_REPOS": "acme/infra"}
	for k, v := range vars {
		all[k] = v
	}
	return func(k string) string { return all[k] }
}

func TestLoadServerDefaults(t *testing.T) {
	s, err := config.LoadServer(nil, getenv(map[string]string{"RUNNER_ALLOWED_REPOS": " acme/infra, acme/platform-* ,,"}))
	if err != nil {
		t.Fatalf("LoadServer: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// Relative paths are made absolute: Terraform and npm run in other directories.
	want := config.Server{
		Listen:               ":8080",
		WebhookSecret:        secret,
		DataDir:              filepath.Join(wd, "runner-data"),
		AllowedRepos:         []string{"acme/infra", "acme/platform-*"},
		Workers:              4,
		PlanParallelism:      3,
		StageTimeout:         45 * time.Minute,
		ShutdownGrace:        60 * time.Second,
		LockLease:            2 * time.Minute,
		TerraformLockTimeout: 2 * time.Minute,
		PluginCacheDir:       filepath.Join(wd, "runner-data", "plugin-cache"),
		RolloutPoll:          5 * time.Second,
		CommandPrefix:        "/runner", ApprovalTimeout: 24 * time.Hour, ApprovalPoll: time.Minute,
		LogLevel:     "info",
		Sandbox:      "auto",
		ReplayWindow: 7 * 24 * time.Hour, DatabaseMaxConns: 10, DatabaseStatementTimeout: 30 * time.Second, DatabaseCredentialCheck: time.Minute, QueueLogEvery: time.Minute,
		UnverifiedBudgetMiB: 64, OIDCLoginClaim: "preferred_username", GitTransport: "auto",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", s, want)
	}
}

func TestLoadServerEnvironmentAndFlags(t *testing.T) {
	key := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN RSA PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RUNNER_LISTEN":                  "127.0.0.1:9000",
		"RUNNER_PUBLIC_URL":              "https://runner.example.com",
		"RUNNER_DATA_DIR":                "/var/lib/runner",
		"RUNNER_WORKERS":                 "8",
		"RUNNER_PLAN_PARALLELISM":        "5",
		"RUNNER_STAGE_TIMEOUT":           "1h",
		"RUNNER_SHUTDOWN_GRACE":          "2m",
		"RUNNER_LOCK_LEASE":              "30s",
		"GITHUB_TOKEN":                   "ghp_token",
		"GITHUB_APP_ID":                  "123",
		"GITHUB_INSTALLATION_ID":         "456",
		"GITHUB_APP_PRIVATE_KEY_FILE":    key,
		"RUNNER_GITHUB_API_URL":          "https://ghe.example.com/api/v3",
		"RUNNER_TERRAFORM_BIN":           "tofu",
		"TF_PLUGIN_CACHE_DIR":            "/cache/plugins",
		"SLACK_BOT_TOKEN":                "xoxb-1",
		"SLACK_CHANNEL":                  "#deploys",
		"SLACK_API_URL":                  "http://127.0.0.1:9999/api",
		"AWS_REGION":                     "eu-west-1",
		"RUNNER_AWS_ENDPOINT":            "http://127.0.0.1:4566",
		"RUNNER_ROLLOUT_POLL":            "100ms",
		"RUNNER_REGISTRY_INSECURE":       "true",
		"RUNNER_LOG_LEVEL":               "debug",
		"RUNNER_LOG_JSON":                "1",
		"TF_CLI_CONFIG_FILE":             key, // any file that exists
		"RUNNER_SANDBOX":                 "user",
		"RUNNER_UNSAFE_UNISOLATED_PLANS": "true",
		"RUNNER_SANDBOX_READ_WRITE":      "/srv/state, /srv/more",
		"RUNNER_ALLOWED_HOSTS":           "runner.internal, 10.0.0.5",
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, s config.Server)
	}{
		{"environment", nil, func(t *testing.T, s config.Server) {
			want := config.Server{
				Listen: "127.0.0.1:9000", PublicURL: "https://runner.example.com", WebhookSecret: secret, OIDCLoginClaim: "preferred_username", GitTransport: "auto",
				DataDir: "/var/lib/runner", AllowedRepos: []string{"acme/infra"}, Workers: 8, PlanParallelism: 5,
				StageTimeout: time.Hour, ShutdownGrace: 2 * time.Minute, LockLease: 30 * time.Second, TerraformLockTimeout: 2 * time.Minute,
				GitHubToken: "ghp_token", GitHubAppID: 123, GitHubInstallationID: 456, GitHubAppKeyFile: key,
				GitHubAPIURL: "https://ghe.example.com/api/v3", TerraformBin: "tofu", PluginCacheDir: "/cache/plugins",
				SlackToken: "xoxb-1", SlackChannel: "#deploys", SlackAPIURL: "http://127.0.0.1:9999/api",
				AWSRegion: "eu-west-1", AWSEndpoint: "http://127.0.0.1:4566", RolloutPoll: 100 * time.Millisecond,
				CommandPrefix: "/runner", ApprovalTimeout: 24 * time.Hour, ApprovalPoll: time.Minute,
				RegistryInsecure: true, LogLevel: "debug", LogJSON: true,
				TerraformCLIConfig: key, Sandbox: "user", UnsafeUnisolatedPlans: true,
				SandboxReadWrite: []string{"/srv/state", "/srv/more"},
				ReplayWindow:     7 * 24 * time.Hour, DatabaseMaxConns: 10, DatabaseStatementTimeout: 30 * time.Second, DatabaseCredentialCheck: time.Minute, QueueLogEvery: time.Minute, UnverifiedBudgetMiB: 64, AllowedHosts: []string{"runner.internal", "10.0.0.5"},
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("\n got %+v\nwant %+v", s, want)
			}
		}},
		{"flags override the environment", []string{
			"-listen", ":9100", "--workers=2", "-plan-parallelism", "1", "-stage-timeout", "10m",
			"-lock-lease", "5m", "-data-dir", "/tmp/d", "-plugin-cache", "", "-log-json=false",
			"-registry-insecure=false", "-log-level", "warn", "-allowed-repos", "other/*", "-webhook-secret", "fedcba9876543210fedcba",
		}, func(t *testing.T, s config.Server) {
			if s.Listen != ":9100" || s.Workers != 2 || s.PlanParallelism != 1 || s.StageTimeout != 10*time.Minute ||
				s.LockLease != 5*time.Minute || s.DataDir != "/tmp/d" || s.LogJSON || s.RegistryInsecure ||
				s.LogLevel != "warn" || s.WebhookSecret != "fedcba9876543210fedcba" {
				t.Errorf("flags did not win: %+v", s)
			}
			if !reflect.DeepEqual(s.AllowedRepos, []string{"other/*"}) {
				t.Errorf("allowed repos = %v", s.AllowedRepos)
			}
			if s.PluginCacheDir != "/tmp/d/plugin-cache" {
				t.Errorf("plugin cache = %q, want it under the data dir when emptied", s.PluginCacheDir)
			}
			// Unflagged values still come from the environment.
			if s.ShutdownGrace != 2*time.Minute || s.AWSRegion != "eu-west-1" || s.GitHubAppID != 123 {
				t.Errorf("environment values lost: %+v", s)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.LoadServer(tc.args, getenv(env))
			if err != nil {
				t.Fatalf("LoadServer: %v", err)
			}
			tc.check(t, s)
		})
	}
}

func TestLoadServerReportsProblems(t *testing.T) {
	missingKey := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"two repository policies", nil, map[string]string{"RUNNER_REPOS_CONFIG": "/etc/runner/repos.yaml", "RUNNER_REPOS_CONFIG_YAML": "repos: []"},
			[]string{"RUNNER_REPOS_CONFIG and RUNNER_REPOS_CONFIG_YAML: set one of them"}},
		{"policies twice", nil, map[string]string{"RUNNER_POLICY_DIR": "/etc/runner/policies", "RUNNER_POLICIES_JSON": `{"a.rego": "package a"}`},
			[]string{"RUNNER_POLICY_DIR and RUNNER_POLICIES_JSON: set one of them"}},
		{"policies not JSON", nil, map[string]string{"RUNNER_POLICIES_JSON": "package a"},
			[]string{"RUNNER_POLICIES_JSON: want a JSON object of file name to rego source"}},
		{"policies as a list", nil, map[string]string{"RUNNER_POLICIES_JSON": `["package a"]`},
			[]string{"RUNNER_POLICIES_JSON: want a JSON object of file name to rego source"}},
		{"policy name with a folder", nil, map[string]string{"RUNNER_POLICIES_JSON": `{"../etc/x.rego": "package a"}`},
			[]string{`RUNNER_POLICIES_JSON: policy name "../etc/x.rego": want a plain file name ending in .rego`}},
		{"policy name not rego", nil, map[string]string{"RUNNER_POLICIES_JSON": `{"x.txt": "package a"}`},
			[]string{`RUNNER_POLICIES_JSON: policy name "x.txt": want a plain file name ending in .rego`}},
		{"policy name hidden", nil, map[string]string{"RUNNER_POLICIES_JSON": `{".rego": "package a"}`},
			[]string{`RUNNER_POLICIES_JSON: policy name ".rego": want a plain file name ending in .rego`}},
		{"negative credential check", nil, map[string]string{"RUNNER_DATABASE_CREDENTIAL_CHECK": "-1s"},
			[]string{`RUNNER_DATABASE_CREDENTIAL_CHECK="-1s": want 0 (off) or a positive duration`}},
		{"negative statement timeout", nil, map[string]string{"RUNNER_DATABASE_STATEMENT_TIMEOUT": "-5s"},
			[]string{`RUNNER_DATABASE_STATEMENT_TIMEOUT="-5s": want 0 (off) or a positive duration`}},
		{"missing secret", nil, map[string]string{"RUNNER_WEBHOOK_SECRET": ""},
			[]string{"RUNNER_WEBHOOK_SECRET is required"}},
		{"short secret", nil, map[string]string{"RUNNER_WEBHOOK_SECRET": "short"},
			[]string{"RUNNER_WEBHOOK_SECRET is shorter than 16 characters"}},
		{"short api token", nil, map[string]string{"RUNNER_API_TOKEN": "short"},
			[]string{"RUNNER_API_TOKEN is shorter than 16 characters"}},
		{"listen without port", nil, map[string]string{"RUNNER_LISTEN": "localhost"},
			[]string{`RUNNER_LISTEN="localhost": want host:port`}},
		{"listen port out of range", nil, map[string]string{"RUNNER_LISTEN": ":70000"},
			[]string{`RUNNER_LISTEN=":70000": port must be 0-65535`}},
		{"listen port not a number", nil, map[string]string{"RUNNER_LISTEN": ":http"},
			[]string{`RUNNER_LISTEN=":http": port must be 0-65535`}},
		{"metrics listen without port", nil, map[string]string{"RUNNER_METRICS_LISTEN": "localhost"},
			[]string{`RUNNER_METRICS_LISTEN="localhost": want host:port`}},
		{"metrics listen on the main address", nil, map[string]string{"RUNNER_LISTEN": ":9000", "RUNNER_METRICS_LISTEN": ":9000"},
			[]string{`RUNNER_METRICS_LISTEN=":9000" is RUNNER_LISTEN`}},
		{"empty data dir", []string{"-data-dir", ""}, nil,
			[]string{"RUNNER_DATA_DIR must not be empty"}},
		{"empty allowlist", nil, map[string]string{"RUNNER_ALLOWED_REPOS": " , "},
			[]string{"RUNNER_ALLOWED_REPOS is empty"}},
		{"allowlist entry without owner", nil, map[string]string{"RUNNER_ALLOWED_REPOS": "acme/infra,infra"},
			[]string{`RUNNER_ALLOWED_REPOS entry "infra": want owner/name`}},
		{"allowlist entry with two slashes", nil, map[string]string{"RUNNER_ALLOWED_REPOS": "acme/infra/x"},
			[]string{`RUNNER_ALLOWED_REPOS entry "acme/infra/x": want owner/name`}},
		{"allowlist bad pattern", nil, map[string]string{"RUNNER_ALLOWED_REPOS": "acme/[infra"},
			[]string{`RUNNER_ALLOWED_REPOS entry "acme/[infra": bad pattern`}},
		{"app id without key", nil, map[string]string{"GITHUB_APP_ID": "1", "GITHUB_INSTALLATION_ID": "2"},
			[]string{"GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE go together"}},
		{"key without app id", nil, map[string]string{"GITHUB_APP_PRIVATE_KEY_FILE": os.Args[0]},
			[]string{"GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE go together"}},
		{"app id without installation", nil, map[string]string{"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": os.Args[0]},
			[]string{"GITHUB_INSTALLATION_ID is required with GITHUB_APP_ID"}},
		{"key file missing", nil, map[string]string{"GITHUB_APP_ID": "1", "GITHUB_INSTALLATION_ID": "2", "GITHUB_APP_PRIVATE_KEY_FILE": missingKey},
			[]string{"GITHUB_APP_PRIVATE_KEY_FILE: stat " + missingKey}},
		{"bad URLs", nil, map[string]string{
			"RUNNER_GITHUB_API_URL": "ghe.example.com", "RUNNER_PUBLIC_URL": "ftp://runner", "SLACK_WEBHOOK_URL": "hooks.slack.com/x",
			"SLACK_API_URL": "slack", "RUNNER_AWS_ENDPOINT": "127.0.0.1:4566"},
			[]string{"RUNNER_GITHUB_API_URL must be an http(s) URL", "RUNNER_PUBLIC_URL must be an http(s) URL",
				"SLACK_WEBHOOK_URL must be an http(s) URL", "SLACK_API_URL must be an http(s) URL", "RUNNER_AWS_ENDPOINT must be an http(s) URL"}},
		{"bad durations", nil, map[string]string{"RUNNER_STAGE_TIMEOUT": "soon", "RUNNER_SHUTDOWN_GRACE": "-1s", "RUNNER_LOCK_LEASE": "0", "RUNNER_ROLLOUT_POLL": "5"},
			[]string{`RUNNER_STAGE_TIMEOUT="soon": want a positive duration`, `RUNNER_SHUTDOWN_GRACE="-1s": want a positive duration`,
				`RUNNER_LOCK_LEASE="0": want a positive duration`, `RUNNER_ROLLOUT_POLL="5": want a positive duration`}},
		{"bad numbers", nil, map[string]string{"RUNNER_WORKERS": "many", "RUNNER_PLAN_PARALLELISM": "0"},
			[]string{`RUNNER_WORKERS="many": want a positive whole number`, `RUNNER_PLAN_PARALLELISM="0": want a positive whole number`}},
		{"bad ids", nil, map[string]string{"GITHUB_APP_ID": "abc", "GITHUB_INSTALLATION_ID": "-3"},
			[]string{`GITHUB_APP_ID="abc": want a numeric id`, `GITHUB_INSTALLATION_ID="-3": want a numeric id`}},
		{"bad bools", nil, map[string]string{"RUNNER_LOG_JSON": "maybe", "RUNNER_REGISTRY_INSECURE": "yes"},
			[]string{`RUNNER_LOG_JSON="maybe": want true or false`, `RUNNER_REGISTRY_INSECURE="yes": want true or false`}},
		{"bad log level", nil, map[string]string{"RUNNER_LOG_LEVEL": "loud"},
			[]string{`RUNNER_LOG_LEVEL="loud": want debug, info, warn or error`}},
		{"unexpected arguments", []string{"-workers", "2", "extra", "more"}, nil,
			[]string{"unexpected arguments: extra more"}},
		{"non-positive flag values", []string{"-workers", "0", "-plan-parallelism", "-1", "-stage-timeout", "0s",
			"-shutdown-grace", "-1s", "-lock-lease", "0s", "-rollout-poll", "-5s"}, nil,
			[]string{"-workers=0 (RUNNER_WORKERS): want a positive whole number",
				"-plan-parallelism=-1 (RUNNER_PLAN_PARALLELISM): want a positive whole number",
				"-stage-timeout=0s (RUNNER_STAGE_TIMEOUT): want a positive duration",
				"-shutdown-grace=-1s (RUNNER_SHUTDOWN_GRACE): want a positive duration",
				"-lock-lease=0s (RUNNER_LOCK_LEASE): want a positive duration",
				"-rollout-poll=-5s (RUNNER_ROLLOUT_POLL): want a positive duration"}},
		{"negative id flags", []string{"-github-app-id", "-1", "-github-installation-id", "-2", "-github-app-key", os.Args[0]}, nil,
			[]string{"-github-app-id=-1 (GITHUB_APP_ID): want a numeric id", "-github-installation-id=-2 (GITHUB_INSTALLATION_ID): want a numeric id"}},
		{"bad flag value and bad variables", []string{"-workers", "abc"}, map[string]string{"RUNNER_LOCK_LEASE": "x", "RUNNER_LOG_JSON": "x"},
			[]string{`invalid value "abc" for flag -workers`, `RUNNER_LOCK_LEASE="x"`, `RUNNER_LOG_JSON="x"`}},
		{"every problem at once", []string{"stray"}, map[string]string{
			"RUNNER_WEBHOOK_SECRET": "", "RUNNER_ALLOWED_REPOS": "", "RUNNER_LISTEN": "nope", "RUNNER_WORKERS": "x",
			"RUNNER_STAGE_TIMEOUT": "x", "RUNNER_LOG_JSON": "x", "GITHUB_APP_ID": "7", "RUNNER_PUBLIC_URL": "x", "RUNNER_LOG_LEVEL": "x"},
			[]string{"RUNNER_WEBHOOK_SECRET is required", "RUNNER_ALLOWED_REPOS is empty", `RUNNER_LISTEN="nope"`,
				`RUNNER_WORKERS="x"`, `RUNNER_STAGE_TIMEOUT="x"`, `RUNNER_LOG_JSON="x"`, "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE go together",
				"GITHUB_INSTALLATION_ID is required", "RUNNER_PUBLIC_URL must be an http(s) URL", `RUNNER_LOG_LEVEL="x"`,
				"unexpected arguments: stray"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadServer(tc.args, getenv(tc.env))
			if err == nil {
				t.Fatal("LoadServer succeeded, want an error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "invalid configuration:\n  ") {
				t.Errorf("error does not start with the heading: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			// One problem per line, each reported once.
			if lines := strings.Count(msg, "\n"); lines != len(tc.want) {
				t.Errorf("error has %d problem lines, want %d:\n%s", lines, len(tc.want), msg)
			}
		})
	}
}

// A flag wins over its variable, so a bad variable whose flag is given is no problem.
func TestLoadServerFlagOverridesABadVariable(t *testing.T) {
	s, err := config.LoadServer([]string{"-workers", "3", "-lock-lease", "1m", "-log-json=true"},
		getenv(map[string]string{"RUNNER_WORKERS": "many", "RUNNER_LOCK_LEASE": "soon", "RUNNER_LOG_JSON": "maybe"}))
	if err != nil {
		t.Fatalf("LoadServer: %v", err)
	}
	if s.Workers != 3 || s.LockLease != time.Minute || !s.LogJSON {
		t.Errorf("workers %d, lock lease %s, log json %v; want the flags' 3, 1m, true", s.Workers, s.LockLease, s.LogJSON)
	}
}

func TestSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    config.Server
		want []string
	}{
		{"none", config.Server{Listen: ":8080", DataDir: "d"}, nil},
		{"webhook secret only", config.Server{WebhookSecret: "w"}, []string{"w"}},
		{"every secret", config.Server{WebhookSecret: "w", GitHubToken: "g", SlackToken: "s", SlackWebhookURL: "https://hooks/x",
			PublicURL: "https://runner", GitHubAppKeyFile: "/key.pem"}, []string{"w", "g", "s", "https://hooks/x"}},
		{"oidc client secret", config.Server{WebhookSecret: "w", OIDCIssuer: "https://idp", OIDCClientID: "c", OIDCClientSecret: "o"},
			[]string{"w", "o"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Secrets(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Secrets() = %q, want %q", got, tc.want)
			}
		})
	}
}

// A secret given in the environment must never show up in `serve -h`, which
// prints every flag's default value.
func TestHelpDoesNotPrintSecrets(t *testing.T) {
	env := map[string]string{
		"RUNNER_WEBHOOK_SECRET": "whsec-0123456789abcdef", "GITHUB_TOKEN": "ghp_supersecret0123",
		"SLACK_BOT_TOKEN": "xoxb-supersecret", "SLACK_WEBHOOK_URL": "https://hooks.example/secret",
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	_, herr := config.LoadServer([]string{"-h"}, func(k string) string { return env[k] })
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	if !errors.Is(herr, flag.ErrHelp) {
		t.Fatalf("LoadServer(-h) = %v, want flag.ErrHelp", herr)
	}
	for name, v := range env {
		if strings.Contains(string(out), v) {
			t.Fatalf("serve -h prints %s:\n%s", name, out)
		}
	}
	cfg, err := config.LoadServer([]string{"-allowed-repos", "a/b"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GitHubToken != env["GITHUB_TOKEN"] || cfg.WebhookSecret != env["RUNNER_WEBHOOK_SECRET"] {
		t.Fatalf("secrets from the environment not used: %+v", cfg)
	}
}

// The database URL is checked, its password kept out of logs and redacted, and described without it.
func TestLoadServerDatabase(t *testing.T) {
	env := map[string]string{"RUNNER_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef",
		"RUNNER_DATABASE_URL": "postgres://runner:s3cret-pass@db.internal:5432/runner?sslmode=require"}
	s, err := config.LoadServer(nil, getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.DatabaseDescription(); d != "postgres db.internal:5432/runner" {
		t.Errorf("description %q", d)
	}
	found := false
	for _, sec := range s.Secrets() {
		found = found || sec == "s3cret-pass"
	}
	if !found {
		t.Error("the database password is not among the secrets redacted")
	}
	// 0 turns the statement timeout and the credential check off (it was refused as "not positive").
	env["RUNNER_DATABASE_STATEMENT_TIMEOUT"], env["RUNNER_DATABASE_CREDENTIAL_CHECK"] = "0", "0s"
	if s, err = config.LoadServer(nil, getenv(env)); err != nil {
		t.Fatal(err)
	}
	if s.DatabaseStatementTimeout != 0 || s.DatabaseCredentialCheck != 0 {
		t.Errorf("statement timeout %v, credential check %v: want both off", s.DatabaseStatementTimeout, s.DatabaseCredentialCheck)
	}
	env["RUNNER_DATABASE_URL"] = "mysql://x"
	if _, err := config.LoadServer(nil, getenv(env)); err == nil || !strings.Contains(err.Error(), "RUNNER_DATABASE_URL must be a postgres:// URL") {
		t.Errorf("err = %v", err)
	}
}

// Single sign-on is all or nothing, needs an https issuer (http on loopback only), the public URL and
// the API token.
func TestLoadServerOIDC(t *testing.T) {
	full := map[string]string{"RUNNER_OIDC_ISSUER": "https://accounts.example.com", "RUNNER_OIDC_CLIENT_ID": "runner",
		"RUNNER_OIDC_CLIENT_SECRET": "client-secret", "RUNNER_PUBLIC_URL": "https://runner.example.com",
		"RUNNER_API_TOKEN": "0123456789abcdef-token"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string // problems; none: valid
	}{
		{name: "off", env: map[string]string{}},
		{name: "full", env: full},
		{name: "public client", env: with("RUNNER_OIDC_CLIENT_SECRET", "")},
		{name: "flags", args: []string{"-oidc-issuer", "https://idp.example", "-oidc-client-id", "x", "-oidc-login-claim", "github"},
			env: with("RUNNER_OIDC_ISSUER", "")},
		{name: "http on loopback", env: with("RUNNER_OIDC_ISSUER", "http://127.0.0.1:5556/dex")},
		{name: "http on localhost", env: with("RUNNER_OIDC_ISSUER", "http://localhost:5556")},
		{name: "http elsewhere", env: with("RUNNER_OIDC_ISSUER", "http://idp.example.com"), want: []string{"must be https"}},
		{name: "not a URL", env: with("RUNNER_OIDC_ISSUER", "idp.example.com"), want: []string{"want the provider's issuer URL"}},
		{name: "no client id", env: with("RUNNER_OIDC_CLIENT_ID", ""), want: []string{"RUNNER_OIDC_CLIENT_ID is required"}},
		{name: "no public URL", env: with("RUNNER_PUBLIC_URL", ""), want: []string{"needs RUNNER_PUBLIC_URL"}},
		{name: "no API token", env: with("RUNNER_API_TOKEN", ""), want: []string{"needs RUNNER_API_TOKEN"}},
		{name: "client without issuer", env: map[string]string{"RUNNER_OIDC_CLIENT_ID": "runner"}, want: []string{"need RUNNER_OIDC_ISSUER"}},
		{name: "bad claim", env: with("RUNNER_OIDC_LOGIN_CLAIM", "a b"), want: []string{"RUNNER_OIDC_LOGIN_CLAIM"}},
		{name: "bad git transport", env: with("RUNNER_GIT_TRANSPORT", "libgit2"), want: []string{"RUNNER_GIT_TRANSPORT"}},
		{name: "allowed logins", env: with("RUNNER_OIDC_ALLOWED_LOGINS", "octo-cat, Hubot")},
		{name: "allowed login not a login", env: with("RUNNER_OIDC_ALLOWED_LOGINS", "octo-cat,<b>"),
			want: []string{`RUNNER_OIDC_ALLOWED_LOGINS entry "<b>"`}},
		{name: "allowed logins without issuer", env: map[string]string{"RUNNER_OIDC_ALLOWED_LOGINS": "octo-cat"},
			want: []string{"need RUNNER_OIDC_ISSUER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.LoadServer(tc.args, getenv(tc.env))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("LoadServer: %v", err)
				}
				if s.OIDCLoginClaim == "" {
					t.Errorf("login claim is empty, want a default")
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadServer accepted %v", tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	s, err := config.LoadServer(nil, getenv(with("RUNNER_OIDC_ALLOWED_LOGINS", " octo-cat, Hubot ,")))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.OIDCAllowedLogins, []string{"octo-cat", "Hubot"}) {
		t.Errorf("allowed logins %q", s.OIDCAllowedLogins)
	}
	if s.OIDCIssuer != full["RUNNER_OIDC_ISSUER"] || s.OIDCClientID != "runner" || s.OIDCClientSecret != "client-secret" ||
		s.OIDCLoginClaim != "preferred_username" {
		t.Errorf("OIDC settings not read: %+v", s)
	}
}
