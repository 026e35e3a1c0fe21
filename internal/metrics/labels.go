package metrics

import (
	"fmt"
	"strings"
	"sync"
)

// bounded admits label values until it has seen max distinct ones; later new values become Other.
type bounded struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func newBounded(max int) *bounded { return &bounded{max: max, seen: map[string]bool{}} }

func (b *bounded) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max {
		return Other
	}
	b.seen[v] = true
	return v
}

// StageLabel is a stage name without its per-app part: image:<app> is image, bundle:<app> is bundle.
func StageLabel(stage string) string {
	name, _, _ := strings.Cut(stage, ":")
	return name
}

// oneOf returns v when it is one of known, else Other.
func oneOf(v string, known ...string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return Other
}

func fmtArgs(v []any) string { return strings.TrimSpace(fmt.Sprintln(v...)) }
