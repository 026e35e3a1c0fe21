package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/sync/singleflight"

	"github.com/gitops-runner/runner/internal/redact"
)

const (
	groupTTL          = time.Minute
	groupFetchTimeout = 10 * time.Second
)

// Groups answers whether a Slack user is in a user group (usergroups.users.list, scope usergroups:read),
// cached for a minute per group so a burst of clicks asks Slack once. Safe for concurrent use.
type Groups struct {
	api    *slack.Client // nil without a token
	log    *slog.Logger
	redact *redact.Redactor
	now    func() time.Time
	fetch  singleflight.Group // concurrent look-ups of one group share one call

	mu    sync.Mutex
	cache map[string]groupEntry
}

type groupEntry struct {
	members map[string]bool
	at      time.Time
}

// NewGroups uses o's Token, APIURL, HTTPClient and Logger. Without a token every look-up fails.
func NewGroups(o Options) *Groups {
	g := &Groups{log: o.Logger, now: time.Now, cache: map[string]groupEntry{},
		redact: redact.New(redact.Secret{Kind: redact.KindSlackToken, Value: o.Token})}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Token != "" {
		hc := o.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: groupFetchTimeout}
		}
		opts := []slack.Option{slack.OptionHTTPClient(hc)}
		if o.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(o.APIURL))
		}
		g.api = slack.New(o.Token, opts...)
	}
	return g
}

// Member reports whether userID is in the user group groupID (an ID like S0123ABCD). Errors (an unknown group,
// Slack down) are not cached.
func (g *Groups) Member(ctx context.Context, groupID, userID string) (bool, error) {
	switch {
	case g.api == nil:
		return false, errors.New("slack user groups: no bot token")
	case groupID == "":
		return false, errors.New("slack user groups: no group")
	case userID == "":
		return false, nil
	}
	if e, ok := g.cached(groupID); ok {
		return e.members[userID], nil
	}
	// The call is shared by every caller waiting on the group: it must not end when the first one's ctx does.
	ch := g.fetch.DoChan(groupID, func() (any, error) {
		if e, ok := g.cached(groupID); ok { // fetched between our look and this call
			return e, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupFetchTimeout)
		defer cancel()
		users, err := g.api.GetUserGroupMembersContext(fctx, groupID)
		if err != nil {
			return nil, fmt.Errorf("slack user group %s members: %w", groupID, g.redact.Err(err))
		}
		e := groupEntry{members: make(map[string]bool, len(users)), at: g.now()}
		for _, u := range users {
			e.members[u] = true
		}
		g.mu.Lock()
		g.cache[groupID] = e
		g.mu.Unlock()
		g.log.Debug("slack user group fetched", "group", groupID, "members", len(users))
		return e, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return false, res.Err
		}
		return res.Val.(groupEntry).members[userID], nil
	case <-ctx.Done():
		return false, fmt.Errorf("slack user group %s members: %w", groupID, ctx.Err())
	}
}

func (g *Groups) cached(groupID string) (groupEntry, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.cache[groupID]
	return e, ok && g.now().Sub(e.at) < groupTTL
}
