// Package review compares the plan reviewed on a pull request with the plan about to be applied at merge,
// so the runner applies only what reviewers saw, and says what differs when it is not.
package review

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gitops-runner/runner/internal/tf"
)

// maxRows bounds the changes Markdown and Text list; the rest are counted.
const maxRows = 30

// Diff is how the plan about to be applied differs from the one reviewed on the pull request.
type Diff struct {
	Added   []tf.ResourceFingerprint // changes in the applied plan the reviewed plan did not have
	Removed []tf.ResourceFingerprint // reviewed changes the applied plan no longer makes
	Changed []Change                 // same address, different actions or planned values
}

// Change is a resource both plans change, differently.
type Change struct {
	Address         string
	ReviewedActions string
	AppliedActions  string
	// ValuesDiffer is set when the planned values (those known before apply) differ, whether or not the
	// actions do.
	ValuesDiffer bool
}

// Compare says how applied differs from reviewed (both from tf.Fingerprint). Changes are paired by
// address; should an address appear more than once on a side, identical entries pair first, then
// entries with the same actions, then the rest in order.
func Compare(reviewed, applied []tf.ResourceFingerprint) Diff {
	type sides struct{ reviewed, applied []tf.ResourceFingerprint }
	byAddress := map[string]*sides{}
	at := func(address string) *sides {
		s := byAddress[address]
		if s == nil {
			s = &sides{}
			byAddress[address] = s
		}
		return s
	}
	for _, f := range reviewed {
		s := at(f.Address)
		s.reviewed = append(s.reviewed, f)
	}
	for _, f := range applied {
		s := at(f.Address)
		s.applied = append(s.applied, f)
	}

	identical := func(x, y tf.ResourceFingerprint) bool { return x == y }
	sameActions := func(x, y tf.ResourceFingerprint) bool { return x.Actions == y.Actions }
	anyOther := func(x, y tf.ResourceFingerprint) bool { return true }
	var d Diff
	for _, address := range slices.Sorted(maps.Keys(byAddress)) {
		s := byAddress[address]
		r, a, _ := pairUp(s.reviewed, s.applied, identical)
		r, a, byActions := pairUp(r, a, sameActions)
		r, a, others := pairUp(r, a, anyOther)
		for _, p := range append(byActions, others...) {
			d.Changed = append(d.Changed, Change{Address: address, ReviewedActions: p[0].Actions, AppliedActions: p[1].Actions,
				ValuesDiffer: p[0].Hash != p[1].Hash})
		}
		d.Removed = append(d.Removed, r...)
		d.Added = append(d.Added, a...)
	}
	sortFingerprints(d.Added)
	sortFingerprints(d.Removed)
	slices.SortStableFunc(d.Changed, func(x, y Change) int {
		return cmp.Or(strings.Compare(x.Address, y.Address), strings.Compare(x.ReviewedActions, y.ReviewedActions),
			strings.Compare(x.AppliedActions, y.AppliedActions))
	})
	return d
}

// pairUp pairs each of r with the first unpaired of a that same matches, in order, and returns the unpaired
// of each side and the pairs.
func pairUp(r, a []tf.ResourceFingerprint, same func(x, y tf.ResourceFingerprint) bool) (restR, restA []tf.ResourceFingerprint, pairs [][2]tf.ResourceFingerprint) {
	sortFingerprints(r)
	sortFingerprints(a)
	used := make([]bool, len(a))
	for _, x := range r {
		j := -1
		for k, y := range a {
			if !used[k] && same(x, y) {
				j = k
				break
			}
		}
		if j < 0 {
			restR = append(restR, x)
			continue
		}
		used[j] = true
		pairs = append(pairs, [2]tf.ResourceFingerprint{x, a[j]})
	}
	for k, y := range a {
		if !used[k] {
			restA = append(restA, y)
		}
	}
	return restR, restA, pairs
}

func sortFingerprints(fs []tf.ResourceFingerprint) {
	slices.SortStableFunc(fs, func(x, y tf.ResourceFingerprint) int {
		return cmp.Or(strings.Compare(x.Address, y.Address), strings.Compare(x.Actions, y.Actions), strings.Compare(x.Hash, y.Hash))
	})
}

// Match reports whether the applied plan makes exactly the reviewed changes.
func (d Diff) Match() bool { return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 }

// Line is one sentence: "matches the reviewed plan" or "differs from the reviewed plan: 1 added, 2 changed,
// 0 removed".
func (d Diff) Line() string {
	if d.Match() {
		return "matches the reviewed plan"
	}
	return fmt.Sprintf("differs from the reviewed plan: %d added, %d changed, %d removed", len(d.Added), len(d.Changed), len(d.Removed))
}

// row is one change as the renderings list it.
type row struct {
	kind              string // added, changed, removed
	address           string
	reviewed, applied string // actions; "" when that plan does not change the resource
	valuesDiffer      bool
}

// rows lists the changes, added first, then changed, then removed.
func (d Diff) rows() []row {
	rows := make([]row, 0, len(d.Added)+len(d.Changed)+len(d.Removed))
	for _, f := range d.Added {
		rows = append(rows, row{kind: "added", address: f.Address, applied: f.Actions})
	}
	for _, c := range d.Changed {
		rows = append(rows, row{kind: "changed", address: c.Address, reviewed: c.ReviewedActions, applied: c.AppliedActions, valuesDiffer: c.ValuesDiffer})
	}
	for _, f := range d.Removed {
		rows = append(rows, row{kind: "removed", address: f.Address, reviewed: f.Actions})
	}
	return rows
}
