package gitrepo

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// CommitTime returns when commit sha was made (the committer time), used as the
// "created" time of artifacts so that rebuilding a commit gives the same digest.
func (m *Mirror) CommitTime(sha string) (time.Time, error) {
	if !shaRE.MatchString(sha) {
		return time.Time{}, fmt.Errorf("commit time of %q: want a full 40-character commit SHA", sha)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return time.Time{}, err
	}
	defer done()
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return time.Time{}, fmt.Errorf("commit %s: %w", sha, ErrCommitNotFound)
	}
	return c.Committer.When.UTC(), nil
}
