package tf

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden and, with a Terraform binary, testdata/plans/*.json")

// goldenScenarios run in order against one copy of the app fixture; each plan is saved as the JSON
// snapshot its golden files are rendered from.
var goldenScenarios = []struct {
	name  string
	vars  map[string]string
	apply bool
}{
	{name: "create", apply: true},
	{name: "no-changes"},
	{name: "mixed", vars: map[string]string{"release": "r2", "message": "hi", "workers": "1", "api_token": "rotated-token-value"}},
	{name: "grow", vars: map[string]string{"workers": "4"}},
}

// uuids are the ids terraform_data generates; they differ on every apply.
var uuids = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func normalise(s string) string {
	return uuids.ReplaceAllString(s, "00000000-0000-0000-0000-000000000000")
}

// TestGoldenSummaries renders the summaries of real plans. With a Terraform binary the plans are made
// now (and, with -update, saved as snapshots); without one the saved snapshots are used, so CI without
// Terraform still checks the rendering of real plan JSON.
func TestGoldenSummaries(t *testing.T) {
	plans := map[string]*tfjson.Plan{}
	for _, sc := range goldenScenarios {
		p, err := readPlanSnapshot(sc.name)
		if err != nil && !*update {
			t.Fatalf("read snapshot %s (regenerate with -update and a Terraform binary): %v", sc.name, err)
		}
		plans[sc.name] = p
	}
	if _, err := FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), execLookPath); err == nil {
		for name, p := range livePlans(t) {
			if *update {
				writePlanSnapshot(t, name, p)
				plans[name] = p
				continue
			}
			// The live plan must render exactly like its snapshot; otherwise the snapshot is stale.
			checkGolden(t, name+"/live", Summarize("app", p), name)
		}
	} else {
		t.Logf("no Terraform binary: checking saved plan snapshots only (%v)", err)
	}
	for _, sc := range goldenScenarios {
		checkGolden(t, sc.name, Summarize("app", plans[sc.name]), sc.name)
	}
}

func checkGolden(t *testing.T, testName string, s Summary, golden string) {
	t.Run(testName, func(t *testing.T) {
		for ext, got := range map[string]string{"md": s.Markdown(), "txt": s.Text()} {
			got = normalise(got)
			path := filepath.Join("testdata", "golden", golden+"."+ext+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		}
	})
}

func livePlans(t *testing.T) map[string]*tfjson.Plan {
	t.Helper()
	e := newTestEnv(t)
	w, log := e.workspace(t, "app", nil)
	ctx := context.Background()
	if err := w.Init(ctx); err != nil {
		t.Fatalf("init: %v\n%s", err, log)
	}
	plans := map[string]*tfjson.Plan{}
	for _, sc := range goldenScenarios {
		planFile := filepath.Join(t.TempDir(), sc.name+".tfplan")
		if _, err := w.Plan(ctx, planFile, sc.vars); err != nil {
			t.Fatalf("plan %s: %v\n%s", sc.name, err, log)
		}
		p, err := w.Show(ctx, planFile)
		if err != nil {
			t.Fatalf("show %s: %v", sc.name, err)
		}
		plans[sc.name] = p
		if sc.apply {
			if err := w.Apply(ctx, planFile); err != nil {
				t.Fatalf("apply %s: %v\n%s", sc.name, err, log)
			}
		}
	}
	return plans
}

func snapshotPath(name string) string { return filepath.Join("testdata", "plans", name+".json") }

func readPlanSnapshot(name string) (*tfjson.Plan, error) {
	b, err := os.ReadFile(snapshotPath(name))
	if err != nil {
		return nil, err
	}
	var p tfjson.Plan
	p.UseJSONNumber(true)
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func writePlanSnapshot(t *testing.T, name string, p *tfjson.Plan) {
	t.Helper()
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(snapshotPath(name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snapshotPath(name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
