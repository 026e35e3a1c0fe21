package tf

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Init runs `terraform init -input=false`, passing backend.hcl and then <environment>.backend.hcl from
// the environment's directory as -backend-config when they exist (later files override earlier ones).
// Inits sharing a plugin cache run one at a time.
func (w *Workspace) Init(ctx context.Context) error {
	var opts []tfexec.InitOption
	for _, name := range w.backendConfigFiles() {
		opts = append(opts, tfexec.BackendConfig(name))
	}
	return w.run(ctx, "init", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		if w.opts.PluginCacheDir != "" {
			unlock, err := lockCacheDir(ctx, w.opts.PluginCacheDir, func() {
				w.log.writeLine([]byte("waiting for the plugin cache lock on " + w.opts.PluginCacheDir + "\n"))
			})
			if err != nil {
				return err
			}
			defer unlock()
		}
		return tf.Init(ctx, opts...)
	})
}

func (w *Workspace) backendConfigFiles() []string {
	var files []string
	for _, name := range []string{"backend.hcl", w.name + ".backend.hcl"} {
		if fi, err := os.Stat(filepath.Join(w.opts.Dir, name)); err == nil && fi.Mode().IsRegular() {
			files = append(files, name)
		}
	}
	return files
}
