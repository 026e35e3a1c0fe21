// Package items holds the item model, its validation rules and the two
// stores behind the API: Memory (local runs, tests) and Postgres.
package items

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Field limits, in characters (runes), not bytes.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 1000
)

// Item is one stored item as the API returns it.
type Item struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Input is what a client may set on an item, on create and on replace.
type Input struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Errors callers branch on.
var (
	ErrNotFound      = errors.New("item not found")
	ErrInvalidCursor = errors.New("invalid cursor")
	ErrStoreFull     = errors.New("item store is full")
)

// ValidationError lists every field that failed validation, so a client can
// show all problems at once instead of one per round trip.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, name+" "+e.Fields[name])
	}
	return "invalid item: " + strings.Join(parts, "; ")
}

// Normalize trims surrounding white space, which is never meaningful in a
// name or description and would otherwise let "   " pass as a name.
func (in Input) Normalize() Input {
	return Input{Name: strings.TrimSpace(in.Name), Description: strings.TrimSpace(in.Description)}
}

// Validate checks a normalized input. It returns a *ValidationError.
func (in Input) Validate() error {
	fields := map[string]string{}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		fields["name"] = "is required"
	case n > MaxNameLen:
		fields["name"] = fmt.Sprintf("must be at most %d characters", MaxNameLen)
	}
	if utf8.RuneCountInString(in.Description) > MaxDescriptionLen {
		fields["description"] = fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)
	}
	for name, value := range map[string]string{"name": in.Name, "description": in.Description} {
		if _, bad := fields[name]; bad {
			continue
		}
		switch {
		case !utf8.ValidString(value):
			fields[name] = "must be valid UTF-8"
		case strings.ContainsRune(value, 0):
			// PostgreSQL text cannot hold NUL; refusing it here keeps both
			// stores answering the same.
			fields[name] = "must not contain NUL characters"
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// ListOptions selects one page of items in creation order.
type ListOptions struct {
	Limit  int    // at least 1; the API caps it
	Cursor string // opaque; empty for the first page
}

// Page is one page of items. Next is empty on the last page.
type Page struct {
	Items []Item `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}
