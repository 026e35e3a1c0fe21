package image_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/image"
	"github.com/gitops-runner/runner/internal/testenv/registry"
)

// plainGoBuild is the baseline: the same go build the builder runs, nothing else.
func plainGoBuild(b *testing.B, out string) {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-o", out, ".")
	cmd.Dir = appDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off")
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, o)
	}
}

// cpu is user+system time of this process and its waited-for children so far.
func cpu(b *testing.B) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkBuildPushVsGoBuild times, in the same iterations and with the same warm build cache, a plain
// go build and a daemonless build + full push (fresh registry each time, so every blob is uploaded).
// Reported: medians of both, the median of the per-iteration wall-time ratios (target <= 1.3), and the
// ratio of total CPU time (this process and its children: go build, the in-process registry).
func BenchmarkBuildPushVsGoBuild(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	gb := &image.GoBuilder{TempDir: dir}
	sp := spec("linux/amd64")
	out := filepath.Join(dir, "plain")
	// Warm the build cache for both paths.
	plainGoBuild(b, out)
	if _, err := gb.Build(ctx, sp, io.Discard); err != nil {
		b.Fatal(err)
	}
	var plain, full, builds, pubs []time.Duration
	var cpuPlain, cpuFull time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reg := registry.New()
		pub := &image.RemotePublisher{}
		measure := func() time.Duration {
			start := time.Now()
			res, err := gb.Build(ctx, sp, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			built := time.Now()
			p, err := pub.Publish(ctx, res, reg.Host+"/app", revision, io.Discard)
			if err != nil || !p.Pushed {
				b.Fatalf("publish: %v %+v", err, p)
			}
			builds, pubs = append(builds, built.Sub(start)), append(pubs, time.Since(built))
			return time.Since(start)
		}
		var tp, tf time.Duration
		plainRun := func() {
			start, c := time.Now(), cpu(b)
			plainGoBuild(b, out)
			tp = time.Since(start)
			cpuPlain += cpu(b) - c
		}
		fullRun := func() {
			c := cpu(b)
			tf = measure()
			cpuFull += cpu(b) - c
		}
		if i%2 == 0 { // alternate the order so neither side always runs second
			plainRun()
			fullRun()
		} else {
			fullRun()
			plainRun()
		}
		reg.Close()
		plain, full = append(plain, tp), append(full, tf)
		ratios = append(ratios, float64(tf)/float64(tp))
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(median(plain).Milliseconds()), "gobuild-ms")
	b.ReportMetric(float64(median(full).Milliseconds()), "buildpush-ms")
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	b.ReportMetric(float64(median(builds).Milliseconds()), "build-ms")
	b.ReportMetric(float64(median(pubs).Milliseconds()), "publish-ms")
	// CPU time is steadier than wall time on a shared machine; it includes the in-process registry's work.
	b.ReportMetric(float64(cpuFull)/float64(cpuPlain), "cpu-ratio")
}

// BenchmarkRepushUnchanged rebuilds an unchanged commit and publishes it again, once to the same tag
// (nothing to push) and once to a new tag (manifest only: every layer is already there).
// Reported: blob bytes the registry received per publish.
func BenchmarkRepushUnchanged(b *testing.B) {
	for _, newTag := range []bool{false, true} {
		n := "same-tag"
		if newTag {
			n = "new-tag"
		}
		b.Run(n, func(b *testing.B) {
			ctx := context.Background()
			reg := registry.New()
			b.Cleanup(reg.Close)
			gb := &image.GoBuilder{TempDir: b.TempDir()}
			pub := &image.RemotePublisher{}
			res, err := gb.Build(ctx, spec(), io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pub.Publish(ctx, res, reg.Host+"/app", revision, io.Discard); err != nil {
				b.Fatal(err)
			}
			first := reg.UploadedBytes()
			reg.ResetCounters()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := gb.Build(ctx, spec(), io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				tag := revision
				if newTag {
					tag = "t" + time.Now().Format("150405.000000000")[7:] + string(rune('a'+i%26))
				}
				if _, err := pub.Publish(ctx, res, reg.Host+"/app", tag, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(first), "first-push-bytes")
			b.ReportMetric(float64(reg.UploadedBytes())/float64(b.N), "repush-blob-bytes/op")
			b.ReportMetric(float64(reg.ManifestPuts())/float64(b.N), "manifests/op")
		})
	}
}
