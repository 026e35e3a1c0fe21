package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// author says which comments the runner wrote itself: the only ones it may edit or delete. A marker proves
// nothing, since anyone who can comment on the pull request can type it.
type author struct {
	// login is the runner's own GitHub login; empty when GitHub would not say who the credentials belong to.
	login string
}

// wrote reports whether cm is the runner's own comment.
func (a author) wrote(cm *gh.IssueComment) bool {
	if a.login != "" {
		return strings.EqualFold(cm.GetUser().GetLogin(), a.login) // logins are case-insensitive
	}
	// Fallback when the login is unknown (e.g. a GITHUB_TOKEN-style installation token used as a plain token,
	// which GET /user refuses with 403 "Resource not accessible by integration"): trust comments by any bot
	// account. People cannot post as a bot, so a human's marker comment is still left alone; another App on the
	// repository could still be mistaken for the runner, and GitHub would refuse that edit.
	return cm.GetUser().GetType() == "Bot"
}

// self learns the runner's author on first need and keeps it; it is safe for concurrent use. A failed lookup is
// not kept, so the next call asks again.
type self struct {
	lock  chan struct{} // held while asking GitHub, so concurrent callers ask once
	known bool
	who   author
	ask   func(context.Context) (author, error)
}

func newSelf(ask func(context.Context) (author, error)) *self {
	return &self{lock: make(chan struct{}, 1), ask: ask}
}

func (s *self) get(ctx context.Context) (author, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return author{}, ctx.Err()
	}
	defer func() { <-s.lock }()
	if s.known {
		return s.who, nil
	}
	who, err := s.ask(ctx)
	if err != nil {
		return author{}, err
	}
	s.who, s.known = who, true
	return who, nil
}

// tokenUser asks GET /user who the token belongs to.
func tokenUser(client *gh.Client) func(context.Context) (author, error) {
	return func(ctx context.Context) (author, error) {
		u, _, err := client.Users.Get(ctx, "")
		if refused(err) {
			return author{}, nil
		}
		if err != nil {
			return author{}, fmt.Errorf("own login (GET /user): %w", err)
		}
		if u.GetLogin() == "" {
			return author{}, errors.New("own login (GET /user): GitHub answered no login")
		}
		return author{login: u.GetLogin()}, nil
	}
}

// appBot asks GET /app, authenticated as the App (JWT), for its slug: the App comments as "<slug>[bot]".
func appBot(appClient *gh.Client) func(context.Context) (author, error) {
	return func(ctx context.Context) (author, error) {
		app, _, err := appClient.Apps.Get(ctx, "")
		if refused(err) {
			return author{}, nil
		}
		if err != nil {
			return author{}, fmt.Errorf("own login (GET /app): %w", err)
		}
		if app.GetSlug() == "" {
			return author{}, errors.New("own login (GET /app): GitHub answered no slug")
		}
		return author{login: app.GetSlug() + "[bot]"}, nil
	}
}

// refused reports GitHub's definite "these credentials may not ask that" (403), as opposed to an outage, bad
// credentials or a rate limit (go-github reports a rate-limit 403 as its own error types, after the retry
// transport gave up), which are returned so the next call asks again.
func refused(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusForbidden
}
