package changes

import (
	"io/fs"

	"github.com/gitops-runner/runner/internal/repofs"
)

// inside is a repository whose Open, Stat, ReadFile and ReadDir follow symlinks only as far as
// repofs.Resolve does: a name that dangles, loops or leads outside the repository fails, the same way
// over a checkout on disk (whose own Open would follow a link anywhere) as over a commit in memory.
// What a pull request can change is inside the repository, so nothing outside it may decide a result.
type inside struct{ repofs.FS }

// within wraps fsys once.
func within(fsys repofs.FS) repofs.FS {
	if in, ok := fsys.(inside); ok {
		return in
	}
	return inside{fsys}
}

func (in inside) Open(name string) (fs.File, error) {
	real, err := repofs.Resolve(in.FS, name)
	if err != nil {
		return nil, err
	}
	return in.FS.Open(real)
}

func (in inside) Stat(name string) (fs.FileInfo, error) {
	real, err := repofs.Resolve(in.FS, name)
	if err != nil {
		return nil, err
	}
	return in.FS.Stat(real)
}

func (in inside) ReadFile(name string) ([]byte, error) {
	real, err := repofs.Resolve(in.FS, name)
	if err != nil {
		return nil, err
	}
	return in.FS.ReadFile(real)
}

func (in inside) ReadDir(name string) ([]fs.DirEntry, error) {
	real, err := repofs.Resolve(in.FS, name)
	if err != nil {
		return nil, err
	}
	return in.FS.ReadDir(real)
}
