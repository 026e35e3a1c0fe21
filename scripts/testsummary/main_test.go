package main

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		json string
		want string
	}{
		{"counts tests and subtests, lists skips with their messages", `{"Action":"start","Package":"x/a"}
{"Action":"run","Package":"x/a","Test":"TestA"}
{"Action":"output","Package":"x/a","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"x/a","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"x/a","Test":"TestA"}
{"Action":"output","Package":"x/a","Test":"TestB/sub","Output":"=== RUN   TestB/sub\n"}
{"Action":"output","Package":"x/a","Test":"TestB/sub","Output":"    b_test.go:9: boom\n"}
{"Action":"fail","Package":"x/a","Test":"TestB/sub"}
{"Action":"fail","Package":"x/a","Test":"TestB"}
{"Action":"output","Package":"x/b","Test":"TestTF","Output":"=== RUN   TestTF\n"}
{"Action":"output","Package":"x/b","Test":"TestTF","Output":"    tf_test.go:20: terraform not available: set RUNNER_TERRAFORM_BIN\n"}
{"Action":"output","Package":"x/b","Test":"TestTF","Output":"--- SKIP: TestTF (0.00s)\n"}
{"Action":"skip","Package":"x/b","Test":"TestTF"}
{"Action":"skip","Package":"x/a","Test":"TestQuiet"}
{"Action":"pass","Package":"x/a"}
`, `5 tests: 1 passed, 2 failed, 2 skipped
  skipped x/a TestQuiet: (no message)
  skipped x/b TestTF: tf_test.go:20: terraform not available: set RUNNER_TERRAFORM_BIN
`},
		{"control characters in a skip message do not break lines", `{"Action":"output","Package":"p","Test":"T","Output":"    x.go:1: a\u001b[31mred\rb\n"}
{"Action":"skip","Package":"p","Test":"T"}
not json
`, `1 tests: 0 passed, 0 failed, 1 skipped
  skipped p T: x.go:1: a[31mredb
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSummary()
			if err := s.read(strings.NewReader(tc.json)); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			s.print(&b)
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}
