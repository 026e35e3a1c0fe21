package repofs

import (
	"os"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// TFConfig is fsys as terraform-config-inspect reads modules: tfconfig.LoadModuleFromFilesystem(
// TFConfig(fsys), dir) loads the module in the repository folder dir.
func TFConfig(fsys FS) tfconfig.FS { return tfFS{fsys} }

type tfFS struct{ fsys FS }

func (t tfFS) Open(name string) (tfconfig.File, error) { return t.fsys.Open(name) }

func (t tfFS) ReadFile(name string) ([]byte, error) { return t.fsys.ReadFile(name) }

// ReadDir lists a folder as os.ReadDir's Lstat does: a symlink is a symlink, not its target.
func (t tfFS) ReadDir(name string) ([]os.FileInfo, error) {
	entries, err := t.fsys.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]os.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	return out, nil
}
