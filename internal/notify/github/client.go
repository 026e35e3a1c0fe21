package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/redact"
)

// Options configure a Client. Either Token, or AppID + InstallationID + PrivateKey (a GitHub App), is required.
type Options struct {
	Token          string
	AppID          int64
	InstallationID int64
	PrivateKey     []byte // PEM, RSA
	// BaseURL is the REST API root, e.g. https://ghe.example.com/api/v3/ for GitHub Enterprise
	// (RUNNER_GITHUB_API_URL); empty means https://api.github.com/.
	BaseURL string
	// HTTPClient supplies the transport and timeout; nil means http.DefaultTransport.
	HTTPClient *http.Client
	Retry      RetryPolicy
	// Secrets are redacted out of every error and every text posted, besides the token, the private key and
	// anything credential-shaped.
	Secrets []string

	sleep func(context.Context, time.Duration) error // tests record waits instead of sleeping
}

// Client posts the runner's results to GitHub: sticky PR comments, replies and reactions, commit statuses, check
// runs and deployments.
// It is safe for concurrent use.
type Client struct {
	gh    *gh.Client
	mask  *redact.Redactor
	self  *self // who the runner is on GitHub, asked on first need
	appID int64 // the GitHub App the runner authenticates as; 0 with a token
}

// ErrConfig reports Options that cannot work.
var ErrConfig = errors.New("github client config")

// New builds a Client. With App credentials it fetches the first installation token at once, so a wrong key
// or id fails here and not on the first comment.
func New(ctx context.Context, opts Options) (*Client, error) {
	m := redact.New(append(redact.Secrets("secret", opts.Secrets...),
		redact.Secret{Kind: redact.KindGitHubToken, Value: opts.Token},
		redact.Secret{Kind: redact.KindPrivateKey, Value: string(opts.PrivateKey)})...)
	base, baseURL, err := apiBase(opts.BaseURL, m)
	if err != nil {
		return nil, err
	}

	var next http.RoundTripper
	var timeout time.Duration
	if opts.HTTPClient != nil {
		next, timeout = opts.HTTPClient.Transport, opts.HTTPClient.Timeout
	}
	rt := newRetryTransport(next, opts.Retry, opts.sleep)

	app := opts.AppID != 0 || opts.InstallationID != 0 || len(opts.PrivateKey) > 0
	var client *gh.Client
	var ask func(context.Context) (author, error)
	switch {
	case opts.Token != "" && app:
		return nil, fmt.Errorf("%w: set either a token or GitHub App credentials, not both", ErrConfig)
	case opts.Token != "":
		client = gh.NewClient(&http.Client{Transport: rt, Timeout: timeout}).WithAuthToken(opts.Token)
		ask = tokenUser(client)
	case app:
		if opts.AppID == 0 || opts.InstallationID == 0 || len(opts.PrivateKey) == 0 {
			return nil, fmt.Errorf("%w: a GitHub App needs app id, installation id and private key", ErrConfig)
		}
		itr, err := installationTransport(rt, opts, base)
		if err != nil {
			return nil, m.Err(err)
		}
		if _, err := itr.Token(ctx); err != nil {
			return nil, m.Err(fmt.Errorf("github app installation token: %w", err))
		}
		client = gh.NewClient(&http.Client{Transport: itr, Timeout: timeout})
		// GET /app wants the App's own JWT, not the installation token.
		atr, err := ghinstallation.NewAppsTransport(rt, opts.AppID, opts.PrivateKey)
		if err != nil {
			return nil, m.Err(fmt.Errorf("%w: github app private key: %w", ErrConfig, err))
		}
		atr.BaseURL = itr.BaseURL
		appClient := gh.NewClient(&http.Client{Transport: atr, Timeout: timeout})
		appClient.BaseURL, appClient.UploadURL, appClient.UserAgent = baseURL, baseURL, "gitops-runner"
		ask = appBot(appClient)
	default:
		return nil, fmt.Errorf("%w: no token and no GitHub App credentials", ErrConfig)
	}
	client.BaseURL = baseURL
	client.UploadURL = baseURL
	client.UserAgent = "gitops-runner"
	return &Client{gh: client, mask: m, self: newSelf(ask), appID: opts.AppID}, nil
}

// App reports whether the client authenticates as a GitHub App installation: only then may it make check runs
// (GitHub refuses them to personal tokens).
func (c *Client) App() bool { return c.appID != 0 }

// apiBase is the REST API root (https://api.github.com/ when raw is empty), with its trailing slash.
func apiBase(raw string, m *redact.Redactor) (string, *url.URL, error) {
	base := "https://api.github.com/"
	if raw != "" {
		base = raw
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", nil, fmt.Errorf("%w: base URL %q is not an absolute URL", ErrConfig, m.String(raw))
	}
	return base, u, nil
}

// installationTransport authenticates as the App's installation, minting installation tokens from base
// (the API root, with its trailing slash) when needed.
func installationTransport(rt http.RoundTripper, opts Options, base string) (*ghinstallation.Transport, error) {
	itr, err := ghinstallation.New(rt, opts.AppID, opts.InstallationID, opts.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: github app private key: %w", ErrConfig, err)
	}
	itr.BaseURL = strings.TrimSuffix(base, "/")
	return itr, nil
}

// errorf wraps an error with what was being done and redacts secrets out of the result; errors.Is and
// errors.As still see the wrapped error (callers branch on go-github's error types).
func (c *Client) errorf(format string, args ...any) error {
	return c.mask.Err(fmt.Errorf(format, args...))
}

// splitRepo turns "owner/name" into its parts.
func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository %q: want owner/name", repo)
	}
	return owner, name, nil
}

// truncateRunes cuts s to at most n runes, ending with an ellipsis when it cut.
func truncateRunes(s string, n int, ellipsis bool) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if ellipsis && n > 0 {
		return string(r[:n-1]) + "…"
	}
	return string(r[:n])
}

// REST is the authenticated go-github client, for other read-only look-ups (permissions, teams).
func (c *Client) REST() *gh.Client { return c.gh }
