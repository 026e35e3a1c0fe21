package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func BenchmarkZZLayer(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", bin, ".")
	cmd.Dir = "testdata/app"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatal(err, string(out))
	}
	fi, _ := os.Stat(bin)
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, err := binaryLayer(bin, "app", time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
