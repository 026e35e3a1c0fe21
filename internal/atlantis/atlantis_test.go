package atlantis_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/atlantis"
	"github.com/gitops-runner/runner/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.runner.yaml and *.stderr from what the conversion gives")

// TestConvertGolden converts every testdata/NAME.atlantis.yaml and compares the output with NAME.runner.yaml
// and the notes with NAME.stderr; every output must parse as .runner.yaml.
func TestConvertGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.atlantis.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least five testdata/*.atlantis.yaml, have %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".atlantis.yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := atlantis.Convert(data)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if _, err := config.ParseRepo(res.Config); err != nil {
				t.Fatalf("the output does not parse as .runner.yaml: %v\n%s", err, res.Config)
			}
			var notes bytes.Buffer
			for _, n := range res.Notes {
				notes.WriteString(n.Format("atlantis.yaml") + "\n")
			}
			golden(t, "testdata/"+name+".runner.yaml", res.Config)
			golden(t, "testdata/"+name+".stderr", notes.Bytes())
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}
