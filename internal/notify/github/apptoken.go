package github

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/gitops-runner/runner/internal/redact"
)

// InstallationTokens hands out a GitHub App installation's access token, for cloning private
// repositories over HTTPS in App mode: minted on first need and again shortly before it expires
// (ghinstallation caches it). Its errors never carry the token, the private key or the App's JWT.
// It is safe for concurrent use.
type InstallationTokens struct {
	itr  *ghinstallation.Transport
	mask *redact.Redactor
}

// NewInstallationTokens checks the App credentials in opts (AppID, InstallationID and PrivateKey;
// BaseURL, HTTPClient and Retry as for New) without calling GitHub.
func NewInstallationTokens(opts Options) (*InstallationTokens, error) {
	m := redact.New(append(redact.Secrets("secret", opts.Secrets...),
		redact.Secret{Kind: redact.KindPrivateKey, Value: string(opts.PrivateKey)})...)
	if opts.AppID == 0 || opts.InstallationID == 0 || len(opts.PrivateKey) == 0 {
		return nil, fmt.Errorf("%w: a GitHub App needs app id, installation id and private key", ErrConfig)
	}
	base, _, err := apiBase(opts.BaseURL, m)
	if err != nil {
		return nil, err
	}
	var next http.RoundTripper
	if opts.HTTPClient != nil {
		next = opts.HTTPClient.Transport
	}
	itr, err := installationTransport(newRetryTransport(next, opts.Retry, opts.sleep), opts, base)
	if err != nil {
		return nil, m.Err(err)
	}
	return &InstallationTokens{itr: itr, mask: m}, nil
}

// Token returns an installation token valid for a while yet.
func (t *InstallationTokens) Token(ctx context.Context) (string, error) {
	tok, err := t.itr.Token(ctx)
	if err != nil {
		return "", t.mask.Err(fmt.Errorf("github app installation token: %w", err))
	}
	return tok, nil
}
