package pipeline

import (
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/action"
)

// A refusal names the missing permission once, whether or not the permission check's reason said it.
func TestRefusalSaysWhatIsNeededOnce(t *testing.T) {
	for _, d := range []*action.Denied{
		{Why: "bob has write access to acme/platform; this needs maintain access or more", Needs: "maintain access or more"},
		{Why: "bob has write access to acme/platform", Needs: "maintain access or more"},
	} {
		got := refusal(d)
		if strings.Count(got, "maintain access or more") != 1 {
			t.Errorf("refusal(%+v) = %q", d, got)
		}
		if e := d.Error(); strings.Count(e, "maintain access or more") != 1 {
			t.Errorf("Error() = %q", e)
		}
	}
}
