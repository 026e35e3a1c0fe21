// Command bigrepo generates the benchmark repository of bench/gitmirror_test.go (see bench/README.md):
//
//	go run ./bench/bigrepo/cmd/bigrepo [-out DIR] [-commits N] [-files N] ...
//
// The same options give the same commit IDs; a finished repository in DIR is reused.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-runner/runner/bench/bigrepo"
)

func main() {
	def, err := bigrepo.DefaultDir()
	if err != nil {
		def = "bench-repo/platform.git"
	}
	d := bigrepo.Defaults
	out := flag.String("out", def, "bare repository to create (reused when already generated with the same options)")
	o := bigrepo.Options{}
	flag.IntVar(&o.Commits, "commits", d.Commits, "first-parent commits on main")
	flag.IntVar(&o.Files, "files", d.Files, "files in main's tree")
	flag.IntVar(&o.PRs, "prs", d.PRs, "pull requests (refs/pull/N/head)")
	flag.IntVar(&o.Tags, "tags", d.Tags, "annotated tags")
	flag.IntVar(&o.Branches, "branches", d.Branches, "branches besides main")
	flag.Uint64Var(&o.Seed, "seed", d.Seed, "seed of the generator's PRNG")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := bigrepo.Generate(ctx, *out, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigrepo:", err)
		os.Exit(1)
	}
	fmt.Printf("%s\n%s\n", *out, s)
}
