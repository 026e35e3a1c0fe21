package gitrepo

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFetchOneCommit measures what a pull request's checkout costs on a small repository: a sync
// that fetches one new commit into a warm mirror, then the commit's tree read into memory (its Terraform
// files read up front) and one environment's folder written from it, per transport.
func BenchmarkFetchOneCommit(b *testing.B) {
	for _, tr := range []Transport{TransportGoGit, TransportGit} {
		b.Run(string(tr), func(b *testing.B) {
			src := newSource(b)
			files := map[string]*string{}
			for i := range 40 {
				files[fmt.Sprintf("environments/e%d/main.tf", i)] = str(fmt.Sprintf("# %d\n", i))
				files[fmt.Sprintf("apps/a%d/main.go", i)] = str(fmt.Sprintf("package main // %d\n", i))
			}
			src.commit("base", files)
			ctx := context.Background()
			mirrors := NewMirrors(b.TempDir(), Auth{Token: testToken}, nil, WithTransport(tr))
			if _, err := mirrors.Sync(ctx, src.url); err != nil {
				b.Fatal(err)
			}
			var fetch, tree time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sha := src.commit(fmt.Sprintf("c%d", i), map[string]*string{fmt.Sprintf("environments/e1/f%d.tf", i): str("# x\n")})
				dir := filepath.Join(b.TempDir(), "src")
				b.StartTimer()
				start := time.Now()
				m, err := mirrors.SyncProgress(ctx, src.url, nil, sha)
				if err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				t, err := m.Tree(ctx, sha, func(p string) bool { return filepath.Ext(p) == ".tf" })
				if err != nil {
					b.Fatal(err)
				}
				if _, err := WriteTree(ctx, t, dir, Selection{Paths: []string{"environments/e1"}}); err != nil {
					b.Fatal(err)
				}
				fetch, tree = fetch+mid.Sub(start), tree+time.Since(mid)
			}
			b.ReportMetric(float64(fetch.Milliseconds())/float64(b.N), "fetch-ms/op")
			b.ReportMetric(float64(tree.Microseconds())/1000/float64(b.N), "tree-ms/op")
		})
	}
}
