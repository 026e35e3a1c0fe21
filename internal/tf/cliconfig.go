package tf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl"
)

// CLIConfig is the Terraform CLI configuration the runner gives sandboxed Terraform.
type CLIConfig struct {
	// Text is the configuration file's content.
	Text []byte
	// Paths are the existing absolute paths the configuration names (dev overrides, mirrors): the
	// sandbox must show them to Terraform, read-only.
	Paths []string
}

// BuildCLIConfig builds the runner's CLI configuration from the operator's own (base, trusted; may
// be empty) and the shared plugin cache. Unless the operator's configuration says how providers are
// installed, Terraform installs them from the cache (as a read-only filesystem mirror) and from
// their registries only: without an explicit provider_installation block Terraform would also
// search the working directory's terraform.d/plugins, where a pull request could put a provider
// binary of its own. The cache is never Terraform's plugin_cache_dir: sandboxed Terraform cannot
// write it, so a repository's code cannot plant a provider there for later runs.
func BuildCLIConfig(base []byte, cache string) (CLIConfig, error) {
	// Terraform reads its CLI configuration with HCL 1 (quoted keys, as in dev_overrides).
	var top map[string]any
	if err := hcl.Unmarshal(base, &top); err != nil {
		return CLIConfig{}, fmt.Errorf("terraform CLI configuration: %w", err)
	}
	if _, set := top["plugin_cache_dir"]; set {
		return CLIConfig{}, errors.New("terraform CLI configuration sets plugin_cache_dir: the runner manages the provider cache itself (TF_PLUGIN_CACHE_DIR / -plugin-cache); remove it")
	}
	var paths []string
	collectPaths(top, &paths)
	var b strings.Builder
	b.Write(base)
	if len(base) > 0 && !strings.HasSuffix(string(base), "\n") {
		b.WriteByte('\n')
	}
	b.WriteString("\n# Added by the runner.\n")
	if _, set := top["disable_checkpoint"]; !set {
		b.WriteString("disable_checkpoint = true\n")
	}
	if _, set := top["provider_installation"]; !set {
		fmt.Fprintf(&b, "provider_installation {\n  filesystem_mirror {\n    path = %s\n  }\n  direct {}\n}\n", strconv.Quote(cache))
	}
	if cache != "" {
		paths = append(paths, cache)
	}
	slices.Sort(paths)
	return CLIConfig{Text: []byte(b.String()), Paths: slices.Compact(paths)}, nil
}

// collectPaths gathers the absolute paths of existing files among a decoded configuration's strings.
func collectPaths(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		if filepath.IsAbs(v) {
			if _, err := os.Stat(v); err == nil {
				*out = append(*out, filepath.Clean(v))
			}
		}
	case map[string]any:
		for _, x := range v {
			collectPaths(x, out)
		}
	case []map[string]any:
		for _, x := range v {
			collectPaths(x, out)
		}
	case []any:
		for _, x := range v {
			collectPaths(x, out)
		}
	}
}
