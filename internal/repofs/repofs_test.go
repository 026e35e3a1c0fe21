package repofs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// layout is one repository, built both on disk and as a Tree, so that both answer alike.
var layout = []Entry{
	{Path: ".runner.yaml", Kind: File, ID: "b-runner", Data: []byte("version: 1\n")},
	{Path: "environments/dev/main.tf", Kind: File, ID: "b-main"},
	{Path: "environments/dev/run.sh", Kind: Executable, ID: "b-run"},
	{Path: "environments/dev/shared", Kind: Symlink, ID: "l-shared"},     // -> ../../modules/net
	{Path: "environments/dev/up", Kind: Symlink, ID: "l-up"},             // -> ../../modules/net/..
	{Path: "environments/dev/through", Kind: Symlink, ID: "l-through"},   // -> shared/../net/vars.tf: ".." after a symlinked folder
	{Path: "environments/dev/dangling", Kind: Symlink, ID: "l-dangling"}, // -> nowhere.tf
	{Path: "environments/dev/escape", Kind: Symlink, ID: "l-escape"},     // -> ../../../etc
	{Path: "environments/dev/abs", Kind: Symlink, ID: "l-abs"},           // -> /etc/passwd
	{Path: "environments/dev/loop", Kind: Symlink, ID: "l-loop"},         // -> loop
	{Path: "environments/dev/chain", Kind: Symlink, ID: "l-chain"},       // -> shared/vars.tf
	{Path: "modules/net/vars.tf", Kind: File, ID: "b-vars"},
	{Path: "modules/net/net", Kind: Symlink, ID: "l-net"}, // -> .
	{Path: "modules/empty", Kind: Folder},
}

var blobs = map[string]string{
	"b-main": "module \"n\" { source = \"./shared\" }\n", "b-run": "#!/bin/sh\n", "b-vars": "variable \"x\" {}\n",
	"l-shared": "../../modules/net", "l-up": "../../modules/net/..", "l-through": "shared/../net/vars.tf",
	"l-dangling": "nowhere.tf", "l-escape": "../../../etc", "l-abs": "/etc/passwd", "l-loop": "loop",
	"l-chain": "shared/vars.tf", "l-net": ".",
}

func newTestTree(t *testing.T) (*Tree, *int) {
	t.Helper()
	reads := 0
	var mu sync.Mutex
	tree, err := NewTree(layout, func(ids []string) (map[string][]byte, error) {
		mu.Lock()
		reads++
		mu.Unlock()
		out := map[string][]byte{}
		for _, id := range ids {
			b, ok := blobs[id]
			if !ok {
				return nil, errors.New("no such blob " + id)
			}
			out[id] = []byte(b)
		}
		return out, nil
	}, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return tree, &reads
}

func writeLayout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range layout {
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		if e.Kind == Folder {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := string(e.Data)
		if e.Data == nil {
			data = blobs[e.ID]
		}
		var err error
		switch e.Kind {
		case Symlink:
			err = os.Symlink(data, p)
		case Executable:
			err = os.WriteFile(p, []byte(data), 0o755)
		default:
			err = os.WriteFile(p, []byte(data), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolve(t *testing.T) {
	tree, _ := newTestTree(t)
	both := map[string]FS{"tree": tree, "disk": Dir(writeLayout(t))}
	cases := []struct {
		name, want string
		err        error
		parent     string // ResolveParent's answer, when it differs from name
	}{
		{name: ".", want: "."},
		{name: ".runner.yaml", want: ".runner.yaml"},
		{name: "environments/dev/shared", want: "modules/net", parent: "environments/dev/shared"},
		{name: "environments/dev/shared/vars.tf", want: "modules/net/vars.tf", parent: "modules/net/vars.tf"},
		{name: "environments/dev/up", want: "modules", parent: "environments/dev/up"},
		{name: "environments/dev/through", want: "modules/net/vars.tf", parent: "environments/dev/through"},
		{name: "environments/dev/chain", want: "modules/net/vars.tf", parent: "environments/dev/chain"},
		{name: "environments/dev/shared/net/net/vars.tf", want: "modules/net/vars.tf", parent: "modules/net/vars.tf"},
		{name: "environments/dev/shared/../../environments", want: "environments", parent: "environments"},
		{name: "environments/dev/dangling", err: fs.ErrNotExist, parent: "environments/dev/dangling"},
		{name: "environments/dev/missing.tf", err: fs.ErrNotExist, parent: "environments/dev/missing.tf"},
		{name: "environments/dev/main.tf/x", err: fs.ErrNotExist},
		{name: "environments/dev/escape", err: ErrOutside, parent: "environments/dev/escape"},
		{name: "environments/dev/abs", err: ErrOutside, parent: "environments/dev/abs"},
		{name: "environments/dev/loop", err: ErrLinkLoop, parent: "environments/dev/loop"},
		{name: "..", err: ErrOutside},
		{name: "/etc", err: ErrOutside},
	}
	for side, fsys := range both {
		for _, c := range cases {
			got, err := Resolve(fsys, c.name)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Errorf("%s: Resolve(%q) = %q, %v; want error %v", side, c.name, got, err, c.err)
				}
			} else if err != nil || got != c.want {
				t.Errorf("%s: Resolve(%q) = %q, %v; want %q", side, c.name, got, err, c.want)
			}
			if c.parent == "" {
				continue
			}
			got, err = ResolveParent(fsys, c.name)
			if err != nil || got != c.parent {
				t.Errorf("%s: ResolveParent(%q) = %q, %v; want %q", side, c.name, got, err, c.parent)
			}
		}
	}
}

// TestTreeAnswersAsTheDisk compares each FS method of the Tree with the same layout on disk.
func TestTreeAnswersAsTheDisk(t *testing.T) {
	tree, _ := newTestTree(t)
	disk := Dir(writeLayout(t))
	for _, name := range []string{".", "environments", "environments/dev", "environments/dev/shared", "modules/empty", "environments/dev/up"} {
		a, errA := tree.ReadDir(name)
		b, errB := disk.ReadDir(name)
		if (errA == nil) != (errB == nil) || len(a) != len(b) {
			t.Fatalf("ReadDir(%q): tree %d, %v; disk %d, %v", name, len(a), errA, len(b), errB)
		}
		for i := range a {
			if a[i].Name() != b[i].Name() || a[i].Type() != b[i].Type() {
				t.Errorf("ReadDir(%q)[%d]: tree %s %v, disk %s %v", name, i, a[i].Name(), a[i].Type(), b[i].Name(), b[i].Type())
			}
		}
	}
	for _, name := range []string{"environments/dev/main.tf", "environments/dev/chain", "environments/dev/through", "environments/dev/shared/vars.tf"} {
		a, errA := tree.ReadFile(name)
		b, errB := disk.ReadFile(name)
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("ReadFile(%q): tree %q, %v; disk %q, %v", name, a, errA, b, errB)
		}
	}
	for _, name := range []string{"environments/dev/shared", "environments/dev/run.sh", "environments/dev/dangling", "modules/empty"} {
		a, errA := tree.Lstat(name)
		b, errB := disk.Lstat(name)
		if errA != nil || errB != nil || a.Mode().Type() != b.Mode().Type() || a.IsDir() != b.IsDir() {
			t.Errorf("Lstat(%q): tree %v, %v; disk %v, %v", name, a, errA, b, errB)
		}
		if a.Mode().Type() == 0 && a.Mode().Perm()&0o100 != b.Mode().Perm()&0o100 {
			t.Errorf("Lstat(%q): tree mode %v, disk %v", name, a.Mode(), b.Mode())
		}
	}
	if got, err := tree.ReadLink("environments/dev/shared"); err != nil || got != "../../modules/net" {
		t.Errorf("ReadLink = %q, %v", got, err)
	}
	if _, err := tree.ReadLink("environments/dev/main.tf"); err == nil {
		t.Error("ReadLink of a file: no error")
	}
	for _, name := range []string{"environments/dev/dangling", "environments/dev/escape", "environments/dev/abs", "environments/dev/loop", "nope"} {
		if _, err := tree.Open(name); err == nil {
			t.Errorf("Open(%q): no error", name)
		}
	}
	if _, err := tree.Open("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(../x) = %v, want fs.ErrInvalid", err)
	}
}

func TestTreeReadsEachBlobOnceAndOnlyWhenUsed(t *testing.T) {
	tree, reads := newTestTree(t)
	if _, err := tree.ReadDir("environments/dev"); err != nil {
		t.Fatal(err)
	}
	if *reads != 0 {
		t.Fatalf("listing a folder read %d blobs", *reads)
	}
	if b, err := tree.ReadFile(".runner.yaml"); err != nil || string(b) != "version: 1\n" || *reads != 0 {
		t.Fatalf("a given content: %q, %v, %d reads", b, err, *reads)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := tree.ReadFile("environments/dev/main.tf"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if *reads != 1 {
		t.Fatalf("8 concurrent reads of one file read its blob %d times", *reads)
	}
	// Load reads what is not read yet in one call; what is read already is not asked again.
	if err := tree.Load([]string{"environments/dev/main.tf", "environments/dev/run.sh", "modules/net/vars.tf", "modules/net", "nope"}); err != nil {
		t.Fatal(err)
	}
	if *reads != 2 {
		t.Fatalf("Load of two files not read yet made %d reads in all, want 2", *reads)
	}
	if b, err := tree.ReadFile("modules/net/vars.tf"); err != nil || string(b) != blobs["b-vars"] || *reads != 2 {
		t.Fatalf("a loaded file: %q, %v, %d reads", b, err, *reads)
	}
}

func TestTreePassesFSTest(t *testing.T) {
	// fstest.TestFS does not follow symlinks the way a repository needs; it checks a tree without them.
	var plain []Entry
	for _, e := range layout {
		if e.Kind != Symlink {
			plain = append(plain, e)
		}
	}
	tree, err := NewTree(plain, func(ids []string) (map[string][]byte, error) {
		out := map[string][]byte{}
		for _, id := range ids {
			out[id] = []byte(blobs[id])
		}
		return out, nil
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(tree, ".runner.yaml", "environments/dev/main.tf", "environments/dev/run.sh", "modules/net/vars.tf", "modules/empty"); err != nil {
		t.Fatal(err)
	}
}

func TestNewTreeRefusesBadEntries(t *testing.T) {
	for _, entries := range [][]Entry{
		{{Path: "../x", Kind: File}},
		{{Path: "/x", Kind: File}},
		{{Path: "a//b", Kind: File}},
		{{Path: "a", Kind: File}, {Path: "a", Kind: File}},
		{{Path: "a", Kind: File}, {Path: "a/b", Kind: File}},
	} {
		if _, err := NewTree(entries, nil, time.Time{}); err == nil {
			t.Errorf("NewTree(%v): no error", entries)
		}
	}
}

func TestTreeSymlinkTargetIsBounded(t *testing.T) {
	tree, err := NewTree([]Entry{{Path: "l", Kind: Symlink, Data: []byte(strings.Repeat("a/", MaxLinkTarget))}}, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.ReadLink("l"); err == nil {
		t.Fatal("a symlink target over the bound was read")
	}
}

// A commit's files are untrusted: what a Tree holds in memory is bounded, and a read past the bound fails
// with ErrTooBig (the caller then streams from the mirror) and can be tried again once there is room.
func TestTreeHoldsABoundedAmount(t *testing.T) {
	big := strings.Repeat(" ", 600)
	tree, err := NewTree([]Entry{
		{Path: "a.tf", Kind: File, ID: "a"}, {Path: "b.tf", Kind: File, ID: "b"}, {Path: "c.tf", Kind: File, ID: "c"},
	}, func(ids []string) (map[string][]byte, error) {
		out := map[string][]byte{}
		for _, id := range ids {
			out[id] = []byte(big)
		}
		return out, nil
	}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tree.max = 1000
	if _, err := tree.ReadFile("a.tf"); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.ReadFile("b.tf"); !errors.Is(err, ErrTooBig) {
		t.Fatalf("past the bound: %v, want ErrTooBig", err)
	}
	if err := tree.Load([]string{"b.tf", "c.tf"}); !errors.Is(err, ErrTooBig) {
		t.Fatalf("Load past the bound: %v, want ErrTooBig", err)
	}
	if held := tree.held.Load(); held > 1000 {
		t.Fatalf("%d bytes held, bound 1000", held)
	}
	tree.max = 2000
	if b, err := tree.ReadFile("b.tf"); err != nil || len(b) != 600 {
		t.Fatalf("with room again: %d bytes, %v", len(b), err)
	}
}
