package policy

import "strings"

// Level is a user's access to a repository, GitHub's repository roles in rank order.
type Level int

// Levels, lowest first.
const (
	LevelNone Level = iota
	LevelRead
	LevelTriage
	LevelWrite
	LevelMaintain
	LevelAdmin
)

var levelNames = [...]string{"none", "read", "triage", "write", "maintain", "admin"}

func (l Level) String() string {
	if l < LevelNone || l > LevelAdmin {
		return "none"
	}
	return levelNames[l]
}

// parseLevel reads a level name, case-insensitively.
func parseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), true
		}
	}
	return LevelNone, false
}

// Rule says who may do something on a repository: anyone with at least MinLevel, a member of one of Teams
// ("org/slug"), or one of Users. MinLevel LevelNone means the level alone allows nobody; the zero Rule
// allows nobody at all.
type Rule struct {
	MinLevel Level
	Teams    []string
	Users    []string
}

// Decision is a yes or no, with the reason in words, for logs and pull request comments.
type Decision struct {
	Allowed bool
	Reason  string
	// Hint says what a maintainer can do about a refusal; MayPlan sets it, "" otherwise.
	Hint string
}

// needs describes what the rule asks for: "write access or more, or membership of acme/sre".
func (r Rule) needs() string {
	var parts []string
	if r.MinLevel > LevelNone {
		parts = append(parts, r.MinLevel.String()+" access or more")
	}
	if len(r.Teams) > 0 {
		parts = append(parts, "membership of "+strings.Join(r.Teams, " or "))
	}
	if len(r.Users) > 0 {
		parts = append(parts, "to be one of "+strings.Join(r.Users, ", "))
	}
	if len(parts) == 0 {
		return "a rule that allows someone (this one names no level, team or user)"
	}
	return strings.Join(parts, ", or ")
}
