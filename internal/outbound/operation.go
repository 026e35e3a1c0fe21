package outbound

import (
	"net/http"
	"regexp"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
)

// Operations have bounded cardinality: what a path holds of names (owners, repositories, branches a pull
// request chose, file paths) never reaches a label, only the fixed words of the API and placeholders.

// GitHubOperation is "METHOD /template", e.g. "POST /repos/{owner}/{repo}/issues/{n}/comments".
func GitHubOperation(r *http.Request) string { return method(r.Method) + " " + GitHubPath(r.URL.Path) }

// githubTemplates are the REST paths the runner calls, and their neighbours. In a template, {n} is a number,
// {ref} one or more segments (a branch name may hold slashes; a SHA is one), {path} the rest of the path,
// any other {x} one segment.
var githubTemplates = compileTemplates(
	"/app",
	"/app/installations",
	"/app/installations/{n}",
	"/app/installations/{n}/access_tokens",
	"/installation/repositories",
	"/user",
	"/users/{user}",
	"/orgs/{org}/members/{user}",
	"/orgs/{org}/memberships/{user}",
	"/orgs/{org}/teams/{team}/memberships/{user}",
	"/repos/{owner}/{repo}",
	"/repos/{owner}/{repo}/installation",
	"/repos/{owner}/{repo}/issues/{n}",
	"/repos/{owner}/{repo}/issues/{n}/comments",
	"/repos/{owner}/{repo}/issues/{n}/reactions",
	"/repos/{owner}/{repo}/issues/{n}/labels",
	"/repos/{owner}/{repo}/issues/comments/{n}",
	"/repos/{owner}/{repo}/issues/comments/{n}/reactions",
	"/repos/{owner}/{repo}/pulls",
	"/repos/{owner}/{repo}/pulls/{n}",
	"/repos/{owner}/{repo}/pulls/{n}/files",
	"/repos/{owner}/{repo}/pulls/{n}/commits",
	"/repos/{owner}/{repo}/pulls/{n}/reviews",
	"/repos/{owner}/{repo}/pulls/{n}/merge",
	"/repos/{owner}/{repo}/statuses/{ref}",
	"/repos/{owner}/{repo}/commits/{ref}/status",
	"/repos/{owner}/{repo}/commits/{ref}/statuses",
	"/repos/{owner}/{repo}/commits/{ref}/pulls",
	"/repos/{owner}/{repo}/commits/{ref}/check-runs",
	"/repos/{owner}/{repo}/commits/{ref}/check-suites",
	"/repos/{owner}/{repo}/commits/{ref}",
	"/repos/{owner}/{repo}/commits",
	"/repos/{owner}/{repo}/check-runs",
	"/repos/{owner}/{repo}/check-runs/{n}",
	"/repos/{owner}/{repo}/check-runs/{n}/annotations",
	"/repos/{owner}/{repo}/deployments",
	"/repos/{owner}/{repo}/deployments/{n}",
	"/repos/{owner}/{repo}/deployments/{n}/statuses",
	"/repos/{owner}/{repo}/collaborators/{user}/permission",
	"/repos/{owner}/{repo}/collaborators/{user}",
	"/repos/{owner}/{repo}/git/ref/{ref}",
	"/repos/{owner}/{repo}/git/refs/{ref}",
	"/repos/{owner}/{repo}/git/commits/{ref}",
	"/repos/{owner}/{repo}/branches/{ref}",
	"/repos/{owner}/{repo}/compare/{ref}",
	"/repos/{owner}/{repo}/contents/{path}",
	"/repos/{owner}/{repo}/contents",
)

// GitHubPath is the template of a GitHub REST path; an unknown path becomes "/repos/{owner}/{repo}/{other}"
// or "/{other}".
func GitHubPath(p string) string {
	p = strings.TrimPrefix(p, "/api/v3") // GitHub Enterprise Server's API root
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	if len(segs) <= 64 {
		for _, t := range githubTemplates {
			if t.match(segs) {
				return t.text
			}
		}
	}
	if len(segs) >= 3 && segs[0] == "repos" {
		return "/repos/{owner}/{repo}/{other}"
	}
	return "/{other}"
}

type template struct {
	text string
	segs []string
}

func compileTemplates(ts ...string) []template {
	out := make([]template, 0, len(ts))
	for _, t := range ts {
		out = append(out, template{text: t, segs: strings.Split(strings.Trim(t, "/"), "/")})
	}
	return out
}

// match reports whether path segments fit the template; {ref} takes as few segments as lets the rest match
// (a template holds at most one multi-segment placeholder, so this is linear).
func (t template) match(segs []string) bool { return matchSegs(t.segs, segs) }

func matchSegs(tpl, segs []string) bool {
	for i, ts := range tpl {
		switch ts {
		case "{path}":
			return len(segs) > i && nonEmpty(segs[i:])
		case "{ref}":
			rest := tpl[i+1:]
			for n := 1; i+n <= len(segs)-len(rest); n++ {
				if nonEmpty(segs[i:i+n]) && matchSegs(rest, segs[i+n:]) {
					return true
				}
			}
			return false
		}
		if i >= len(segs) {
			return false
		}
		switch {
		case ts == "{n}":
			if !isNumber(segs[i]) {
				return false
			}
		case strings.HasPrefix(ts, "{"):
			if segs[i] == "" {
				return false
			}
		case ts != segs[i]:
			return false
		}
	}
	return len(segs) == len(tpl)
}

func nonEmpty(segs []string) bool {
	for _, s := range segs {
		if s == "" {
			return false
		}
	}
	return true
}

func isNumber(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func method(m string) string {
	switch m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "OTHER"
}

var slackMethod = regexp.MustCompile(`^[a-z][a-zA-Z]{0,30}(\.[a-zA-Z]{1,30}){1,3}$`)

// SlackOperation is the Web API method ("chat.postMessage"), "incoming-webhook", "response_url" or "other".
func SlackOperation(r *http.Request) string { return slackOperation(r.URL.Path) }

func slackOperation(p string) string {
	switch {
	case strings.HasPrefix(p, "/services/"):
		return "incoming-webhook"
	case strings.HasPrefix(p, "/actions/"):
		return "response_url"
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 && slackMethod.MatchString(p[i+1:]) {
		return p[i+1:]
	}
	return "other"
}

// SlackPath is the template of a Slack path: an incoming webhook's or response URL's secret path is dropped.
func SlackPath(p string) string {
	switch op := slackOperation(p); op {
	case "incoming-webhook":
		return "/services/{webhook}"
	case "response_url":
		return "/actions/{response}"
	case "other":
		return "/{other}"
	default:
		return "/api/" + op
	}
}

var awsName = regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`)

// AWSOperation is the SDK's service and operation, "ecr:DescribeRepositories" (the IAM action's form), read
// from the request's context where the SDK's middleware stack put them; "other" outside the SDK.
func AWSOperation(r *http.Request) string {
	svc, op := awsmiddleware.GetServiceID(r.Context()), awsmiddleware.GetOperationName(r.Context())
	if !awsName.MatchString(svc) || !awsName.MatchString(op) {
		return "other"
	}
	return strings.ToLower(strings.ReplaceAll(svc, " ", "")) + ":" + op
}
