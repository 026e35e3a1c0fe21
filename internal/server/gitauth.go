package server

import (
	"fmt"
	"os"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/gitrepo"
	ghnotify "github.com/gitops-runner/runner/internal/notify/github"
)

// gitAuth is how the mirrors authenticate to GitHub: with the configured token or, in GitHub App
// mode, with the installation's own token, minted on the first fetch and renewed before it
// expires, so that private repositories clone.
func gitAuth(cfg config.Server) (gitrepo.Auth, error) {
	if cfg.GitHubAppID == 0 {
		return gitrepo.Auth{Token: cfg.GitHubToken}, nil
	}
	key, err := os.ReadFile(cfg.GitHubAppKeyFile)
	if err != nil {
		return gitrepo.Auth{}, fmt.Errorf("read GitHub App private key: %w", err)
	}
	tokens, err := ghnotify.NewInstallationTokens(ghnotify.Options{
		AppID: cfg.GitHubAppID, InstallationID: cfg.GitHubInstallationID, PrivateKey: key,
		BaseURL: cfg.GitHubAPIURL, Secrets: cfg.Secrets(),
	})
	if err != nil {
		return gitrepo.Auth{}, fmt.Errorf("GitHub App clone token: %w", err)
	}
	return gitrepo.Auth{TokenSource: tokens.Token}, nil
}
