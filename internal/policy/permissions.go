package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/singleflight"
)

// DefaultPermissionsTTL is how long a permission or team look-up is reused.
const DefaultPermissionsTTL = time.Minute

// lookupTimeout bounds one GitHub look-up, which runs apart from any one caller's context because callers
// share it.
const lookupTimeout = 30 * time.Second

// maxCacheEntries is when expired entries are swept out of the cache.
const maxCacheEntries = 4096

// PermissionsOptions tune Permissions; the zero value is fine.
type PermissionsOptions struct {
	TTL time.Duration    // default DefaultPermissionsTTL
	Now func() time.Time // default time.Now; tests move the clock
}

// Permissions answers who may do what on a repository from GitHub: collaborator permission levels and team
// memberships, each cached for a short TTL. Concurrent identical look-ups share one request, and failed
// look-ups are not cached. It is safe for concurrent use.
type Permissions struct {
	gh  *github.Client
	ttl time.Duration
	now func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	level   Level
	member  bool
	expires time.Time
}

// NewPermissions returns Permissions that ask GitHub through gh, which needs read access to the repositories'
// collaborators and, for team rules, to the organisations' members.
func NewPermissions(gh *github.Client, opts PermissionsOptions) *Permissions {
	p := &Permissions{gh: gh, ttl: opts.TTL, now: opts.Now, cache: map[string]cached{}}
	if p.ttl <= 0 {
		p.ttl = DefaultPermissionsTTL
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

var _ Checker = (*Permissions)(nil)

// Allows decides whether user satisfies rule on repo ("owner/name"): by name first, then by permission
// level, then by team, asking GitHub only as far as needed. A look-up that fails is an error only when
// nothing else allowed the user.
func (p *Permissions) Allows(ctx context.Context, repo, user string, rule Rule) (Decision, error) {
	if user == "" {
		return Decision{Reason: "the user is not known"}, nil
	}
	for _, u := range rule.Users {
		if strings.EqualFold(u, user) {
			return Decision{Allowed: true, Reason: fmt.Sprintf("%s is allowed by name", user)}, nil
		}
	}
	var firstErr error
	level := LevelNone
	if rule.MinLevel > LevelNone {
		l, err := p.Level(ctx, repo, user)
		switch {
		case err != nil:
			firstErr = err
		case l >= rule.MinLevel:
			return Decision{Allowed: true, Reason: fmt.Sprintf("%s has %s access to %s", user, l, repo)}, nil
		}
		level = l
	}
	for _, team := range rule.Teams {
		in, err := p.InTeam(ctx, team, user)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			return Decision{Allowed: true, Reason: fmt.Sprintf("%s is a member of %s", user, team)}, nil
		}
	}
	if firstErr != nil {
		return Decision{Reason: fmt.Sprintf("the runner could not check %s's access to %s", user, repo)}, firstErr
	}
	has := fmt.Sprintf("%s has %s access to %s", user, level, repo)
	switch {
	case rule.MinLevel == LevelNone:
		has = fmt.Sprintf("%s is not allowed on %s", user, repo)
	case level == LevelNone:
		has = fmt.Sprintf("%s has no access to %s", user, repo)
	}
	return Decision{Reason: has + "; this needs " + rule.needs()}, nil
}

// Level returns user's access to repo ("owner/name"). GitHub's role_name ranks it when it is one of the five
// repository roles; a custom role counts as its base permission. A user GitHub does not know has LevelNone.
func (p *Permissions) Level(ctx context.Context, repo, user string) (Level, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return LevelNone, fmt.Errorf("look up %s's access: repository %q is not owner/name", user, repo)
	}
	key := "level\x00" + strings.ToLower(repo) + "\x00" + strings.ToLower(user)
	c, err := p.cached(ctx, key, func(ctx context.Context) (cached, error) {
		u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", url.PathEscape(owner), url.PathEscape(name), url.PathEscape(user))
		// go-github v60's RepositoryPermissionLevel has no role_name: decode the wire format.
		var body struct {
			Permission string `json:"permission"`
			RoleName   string `json:"role_name"`
		}
		found, err := p.get(ctx, u, &body)
		if err != nil || !found {
			return cached{}, err
		}
		return cached{level: rank(body.RoleName, body.Permission)}, nil
	})
	if err != nil {
		return LevelNone, fmt.Errorf("look up %s's access to %s: %w", user, repo, err)
	}
	return c.level, nil
}

// InTeam reports whether user is an active member of team ("org/slug"). GitHub answers 404 for a user who
// is not a member (and for a team the runner cannot see): both are "no".
func (p *Permissions) InTeam(ctx context.Context, team, user string) (bool, error) {
	org, slug, ok := strings.Cut(team, "/")
	if !ok || org == "" || slug == "" || strings.Contains(slug, "/") {
		return false, fmt.Errorf("look up %s's membership: team %q is not org/slug", user, team)
	}
	key := "team\x00" + strings.ToLower(team) + "\x00" + strings.ToLower(user)
	c, err := p.cached(ctx, key, func(ctx context.Context) (cached, error) {
		u := fmt.Sprintf("orgs/%s/teams/%s/memberships/%s", url.PathEscape(org), url.PathEscape(slug), url.PathEscape(user))
		var m github.Membership
		found, err := p.get(ctx, u, &m)
		return cached{member: found && m.GetState() == "active"}, err
	})
	if err != nil {
		return false, fmt.Errorf("look up %s's membership of %s: %w", user, team, err)
	}
	return c.member, nil
}

// rank turns GitHub's answer into a Level.
func rank(role, permission string) Level {
	if l, ok := parseLevel(role); ok && l > LevelNone {
		return l
	}
	l, _ := parseLevel(permission)
	return l
}

// get fetches u into v; found is false on 404.
func (p *Permissions) get(ctx context.Context, u string, v any) (found bool, err error) {
	req, err := p.gh.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := p.gh.Do(ctx, req, v)
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// cached answers from the cache while fresh, else fetches once for all concurrent callers. The fetch does not
// stop when one caller gives up, since others may wait for it; lookupTimeout bounds it.
func (p *Permissions) cached(ctx context.Context, key string, fetch func(context.Context) (cached, error)) (cached, error) {
	if c, ok := p.fresh(key); ok {
		return c, nil
	}
	ch := p.group.DoChan(key, func() (any, error) {
		// A caller that missed the cache just before another's look-up stored its answer finds it here.
		if c, ok := p.fresh(key); ok {
			return c, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		c, err := fetch(fctx)
		if err != nil {
			return cached{}, err
		}
		c.expires = p.now().Add(p.ttl)
		p.store(key, c)
		return c, nil
	})
	select {
	case <-ctx.Done():
		return cached{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return cached{}, r.Err
		}
		return r.Val.(cached), nil
	}
}

func (p *Permissions) fresh(key string) (cached, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.cache[key]
	return c, ok && p.now().Before(c.expires)
}

func (p *Permissions) store(key string, c cached) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.cache) >= maxCacheEntries {
		now := p.now()
		for k, e := range p.cache {
			if !now.Before(e.expires) {
				delete(p.cache, k)
			}
		}
		if len(p.cache) >= maxCacheEntries { // all fresh: start over rather than grow without bound
			clear(p.cache)
		}
	}
	p.cache[key] = c
}
