package review

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/tf"
)

func fp(address, actions, hash string) tf.ResourceFingerprint {
	return tf.ResourceFingerprint{Address: address, Actions: actions, Hash: hash}
}

func TestCompare(t *testing.T) {
	bucket := fp("aws_s3_bucket.b", "create", "h1")
	queue := fp("aws_sqs_queue.q", "update", "h2")
	gone := fp("aws_iam_role.old", "delete", "")
	web := fp("aws_instance.web", "create,delete", "h3")
	webDeposed := fp("aws_instance.web (deposed 00000001)", "delete", "")
	webDeposed2 := fp("aws_instance.web (deposed 00000002)", "delete", "")
	tests := []struct {
		name              string
		reviewed, applied []tf.ResourceFingerprint
		want              Diff
	}{
		{"both empty", nil, nil, Diff{}},
		{"same", []tf.ResourceFingerprint{bucket, queue, gone}, []tf.ResourceFingerprint{bucket, queue, gone}, Diff{}},
		{"same in another order", []tf.ResourceFingerprint{gone, queue, bucket}, []tf.ResourceFingerprint{bucket, gone, queue}, Diff{}},
		{"added", []tf.ResourceFingerprint{bucket}, []tf.ResourceFingerprint{queue, bucket, gone},
			Diff{Added: []tf.ResourceFingerprint{gone, queue}}},
		{"removed", []tf.ResourceFingerprint{queue, bucket, gone}, []tf.ResourceFingerprint{bucket},
			Diff{Removed: []tf.ResourceFingerprint{gone, queue}}},
		{"everything added", nil, []tf.ResourceFingerprint{bucket}, Diff{Added: []tf.ResourceFingerprint{bucket}}},
		{"changed actions, same values", []tf.ResourceFingerprint{queue}, []tf.ResourceFingerprint{fp(queue.Address, "delete,create", "h2")},
			Diff{Changed: []Change{{Address: queue.Address, ReviewedActions: "update", AppliedActions: "delete,create"}}}},
		{"changed values", []tf.ResourceFingerprint{bucket, queue}, []tf.ResourceFingerprint{bucket, fp(queue.Address, "update", "h9")},
			Diff{Changed: []Change{{Address: queue.Address, ReviewedActions: "update", AppliedActions: "update", ValuesDiffer: true}}}},
		{"changed actions and values", []tf.ResourceFingerprint{queue}, []tf.ResourceFingerprint{fp(queue.Address, "delete", "")},
			Diff{Changed: []Change{{Address: queue.Address, ReviewedActions: "update", AppliedActions: "delete", ValuesDiffer: true}}}},
		{"deposed object no longer deleted", []tf.ResourceFingerprint{web, webDeposed}, []tf.ResourceFingerprint{web},
			Diff{Removed: []tf.ResourceFingerprint{webDeposed}}},
		{"another deposed object", []tf.ResourceFingerprint{web, webDeposed}, []tf.ResourceFingerprint{webDeposed2, web, webDeposed},
			Diff{Added: []tf.ResourceFingerprint{webDeposed2}}},
		{"replacement became an update, deposed object kept", []tf.ResourceFingerprint{web, webDeposed}, []tf.ResourceFingerprint{webDeposed, fp(web.Address, "update", "h3")},
			Diff{Changed: []Change{{Address: web.Address, ReviewedActions: "create,delete", AppliedActions: "update"}}}},
		{"duplicate address: identical entries pair first", []tf.ResourceFingerprint{queue, fp(queue.Address, "delete", "")},
			[]tf.ResourceFingerprint{fp(queue.Address, "delete", ""), queue}, Diff{}},
		{"duplicate address: one entry more", []tf.ResourceFingerprint{queue}, []tf.ResourceFingerprint{queue, queue},
			Diff{Added: []tf.ResourceFingerprint{queue}}},
		{"duplicate address: same actions pair before others", []tf.ResourceFingerprint{fp("x.y", "create", "a"), fp("x.y", "update", "b")},
			[]tf.ResourceFingerprint{fp("x.y", "update", "c"), fp("x.y", "delete", "")},
			Diff{Changed: []Change{
				{Address: "x.y", ReviewedActions: "create", AppliedActions: "delete", ValuesDiffer: true},
				{Address: "x.y", ReviewedActions: "update", AppliedActions: "update", ValuesDiffer: true},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reviewed := append([]tf.ResourceFingerprint(nil), tt.reviewed...)
			applied := append([]tf.ResourceFingerprint(nil), tt.applied...)
			got := Compare(reviewed, applied)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Compare =\n%+v\nwant\n%+v", got, tt.want)
			}
			if got.Match() != reflect.DeepEqual(tt.want, Diff{}) {
				t.Fatalf("Match = %v", got.Match())
			}
			if !reflect.DeepEqual(reviewed, tt.reviewed) || !reflect.DeepEqual(applied, tt.applied) {
				t.Fatal("Compare reordered its arguments")
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		diff Diff
		want string
	}{
		{Diff{}, "matches the reviewed plan"},
		{Diff{Added: []tf.ResourceFingerprint{{}}, Changed: []Change{{}, {}}}, "differs from the reviewed plan: 1 added, 2 changed, 0 removed"},
		{Diff{Removed: []tf.ResourceFingerprint{{}}}, "differs from the reviewed plan: 0 added, 0 changed, 1 removed"},
	}
	for _, tt := range tests {
		if got := tt.diff.Line(); got != tt.want {
			t.Errorf("Line = %q, want %q", got, tt.want)
		}
	}
}

var small = Diff{
	Added:   []tf.ResourceFingerprint{fp("aws_s3_bucket.logs", "create", "h")},
	Changed: []Change{{Address: "aws_iam_role.app", ReviewedActions: "update", AppliedActions: "delete,create", ValuesDiffer: true}, {Address: "aws_sqs_queue.q", ReviewedActions: "update", AppliedActions: "update", ValuesDiffer: true}},
	Removed: []tf.ResourceFingerprint{fp("aws_iam_role.old", "delete", "")},
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name string
		diff Diff
		want string
	}{
		{"match", Diff{}, "The plan to apply matches the reviewed plan.\n"},
		{"small", small, "The plan to apply differs from the reviewed plan: 1 added, 2 changed, 1 removed.\n\n" +
			"| | resource | reviewed | to apply |\n|---|---|---|---|\n" +
			"| added | <code>aws\\_s3\\_bucket.logs</code> | — | create |\n" +
			"| changed | <code>aws\\_iam\\_role.app</code> | update | delete,create (planned values differ) |\n" +
			"| changed | <code>aws\\_sqs\\_queue.q</code> | update | update (planned values differ) |\n" +
			"| removed | <code>aws\\_iam\\_role.old</code> | delete | — |\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.diff.Markdown(); got != tt.want {
				t.Fatalf("Markdown =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name string
		diff Diff
		want string
	}{
		{"match", Diff{}, "plan matches the reviewed plan"},
		{"small", small, "plan differs from the reviewed plan: 1 added, 2 changed, 1 removed\n" +
			"added: aws_s3_bucket.logs (create)\n" +
			"changed: aws_iam_role.app: reviewed update, to apply delete,create, planned values differ\n" +
			"changed: aws_sqs_queue.q (update), planned values differ\n" +
			"removed: aws_iam_role.old (delete)"},
		{"same actions, same values", Diff{Changed: []Change{{Address: "a.b", ReviewedActions: "update", AppliedActions: "delete"}}},
			"plan differs from the reviewed plan: 0 added, 1 changed, 0 removed\nchanged: a.b: reviewed update, to apply delete"},
		{"hostile address", Diff{Added: []tf.ResourceFingerprint{fp("x.y[\"<!channel> & <@U1|me>\nadded: fake\"]", "create", "")}},
			"plan differs from the reviewed plan: 1 added, 0 changed, 0 removed\nadded: x.y[\"&lt;!channel&gt; &amp; &lt;@U1|me&gt; added: fake\"] (create)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.diff.Text(); got != tt.want {
				t.Fatalf("Text =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// many is a difference of n changes, a third of each kind.
func many(n int) Diff {
	var d Diff
	for i := range n {
		address := fmt.Sprintf("aws_s3_bucket.b%03d", i)
		switch i % 3 {
		case 0:
			d.Added = append(d.Added, fp(address, "create", "h"))
		case 1:
			d.Changed = append(d.Changed, Change{Address: address, ReviewedActions: "update", AppliedActions: "update", ValuesDiffer: true})
		default:
			d.Removed = append(d.Removed, fp(address, "delete", ""))
		}
	}
	return d
}

func TestRenderingsAreBounded(t *testing.T) {
	tests := []struct {
		changes    int
		wantListed int
		wantMore   string
	}{
		{1, 1, ""},
		{30, 30, ""},
		{31, 30, "… and 1 more"},
		{100, 30, "… and 70 more"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.changes), func(t *testing.T) {
			d := many(tt.changes)

			md := strings.Split(strings.TrimSuffix(d.Markdown(), "\n"), "\n")
			rows := 0
			for _, l := range md {
				if strings.HasPrefix(l, "| added |") || strings.HasPrefix(l, "| changed |") || strings.HasPrefix(l, "| removed |") {
					rows++
				}
			}
			if rows != tt.wantListed {
				t.Errorf("Markdown lists %d rows, want %d", rows, tt.wantListed)
			}
			if last := md[len(md)-1]; (tt.wantMore == "") != strings.HasPrefix(last, "| ") || tt.wantMore != "" && last != tt.wantMore {
				t.Errorf("Markdown ends %q, want %q", last, tt.wantMore)
			}
			if tt.wantMore != "" && md[len(md)-2] != "" {
				t.Error("no blank line between the table and the count of the rest")
			}

			text := strings.Split(d.Text(), "\n")
			more := 0
			if tt.wantMore != "" {
				more = 1
			}
			if want := 1 + tt.wantListed + more; len(text) != want {
				t.Errorf("Text has %d lines, want %d", len(text), want)
			}
			if last := text[len(text)-1]; tt.wantMore != "" && last != tt.wantMore {
				t.Errorf("Text ends %q, want %q", last, tt.wantMore)
			}
		})
	}
}
