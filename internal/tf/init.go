package tf

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Init runs `terraform init -input=false`, passing backend.hcl and then <environment>.backend.hcl from
// the environment's directory as -backend-config when they exist, then Options.BackendConfig (later
// values override earlier ones). Inits sharing a plugin cache run one at a time. With
// Options.Workspace it then selects that workspace, creating it the first time.
func (w *Workspace) Init(ctx context.Context) error {
	var opts []tfexec.InitOption
	for _, name := range w.backendConfigFiles() {
		opts = append(opts, tfexec.BackendConfig(name))
	}
	for _, b := range w.opts.BackendConfig {
		opts = append(opts, tfexec.BackendConfig(b))
	}
	if err := w.init(ctx, opts); err != nil {
		return err
	}
	return w.selectWorkspace(ctx)
}

// selectWorkspace selects Options.Workspace, creating it when the state has none of that name.
func (w *Workspace) selectWorkspace(ctx context.Context) error {
	ws := w.opts.Workspace
	if ws == "" || ws == "default" {
		return nil
	}
	return w.run(ctx, "workspace select "+ws, true, func(ctx context.Context, tf *tfexec.Terraform) error {
		list, current, err := tf.WorkspaceList(ctx)
		if err != nil {
			return err
		}
		if current == ws {
			return nil
		}
		if slices.Contains(list, ws) {
			return tf.WorkspaceSelect(ctx, ws)
		}
		return tf.WorkspaceNew(ctx, ws)
	})
}

func (w *Workspace) init(ctx context.Context, opts []tfexec.InitOption) error {
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
