package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gitops-runner/runner/internal/atlantis"
)

// Import prints the .runner.yaml equivalent of a repository's Atlantis repo config (atlantis.yaml) on stdout
// and lists on stderr, one per line with its atlantis.yaml line, everything it could not carry over. It
// exits 0 when it printed a configuration, 1 when the file cannot be read or converted, 2 on usage errors.
func Import(_ context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", ".", "repository checkout holding the Atlantis config")
	file := fs.String("file", "atlantis.yaml", "the Atlantis repo config; a relative path is taken from --repo")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: runner import [--file atlantis.yaml] [--repo DIR]\n\n"+
			"Prints the .runner.yaml equivalent of an Atlantis repo config on stdout, and on stderr every key or\n"+
			"value it could not map, with its line. Exit 0: printed (even with unmapped items); 1: unreadable or\n"+
			"invalid file; 2: usage error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ExitError{Code: 2} // the flag package has said what was wrong, and shown the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "runner import: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ExitError{Code: 2}
	}
	path := *file
	if !filepath.IsAbs(path) {
		path = filepath.Join(*repo, path)
	}
	data, err := readBounded(path, atlantis.MaxFileSize)
	if err != nil {
		return fmt.Errorf("read the Atlantis config: %w", err)
	}
	res, err := atlantis.Convert(data)
	if err != nil {
		var ae *atlantis.Error
		if errors.As(err, &ae) && ae.Line > 0 {
			return fmt.Errorf("convert %s:%d: %s", path, ae.Line, ae.Msg)
		}
		return fmt.Errorf("convert %s: %w", path, err)
	}
	if _, err := env.Stdout.Write(res.Config); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	for _, n := range res.Notes {
		fmt.Fprintln(env.Stderr, n.Format(path))
	}
	fmt.Fprintf(env.Stderr, "runner import: %d project(s) in %d environment(s); %d not mapped, %d error(s), %d note(s), %d warning(s)\n",
		res.Projects, res.Environments, res.Count(atlantis.Unmapped), res.Count(atlantis.Invalid), res.Count(atlantis.Changed), res.Count(atlantis.Warning))
	return nil
}

// readBounded reads a file of at most max bytes; one more is read so that the converter can tell the file is
// too large rather than convert a truncated one.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	return io.ReadAll(io.LimitReader(f, max+1))
}
