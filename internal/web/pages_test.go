package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// fixedApprovals is a fake Approvals.
type fixedApprovals []web.ApprovalView

func (a fixedApprovals) Approvals(context.Context) ([]web.ApprovalView, error) { return a, nil }

// seedPages records a hostile pull request's run with a plan, a deployment and a lock.
func seedPages(t *testing.T, st *store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, err := st.Accept(ctx, event.Event{DeliveryID: "d1", Name: "pull_request", Kind: event.KindPlan, Repo: "acme/infra",
		SHA: "0123456789abcdef0123456789abcdef01234567", Ref: `x"><script>alert(1)</script>`, PR: 7,
		Comment: `<img src=x onerror=alert(1)>`}, nil)
	must(err)
	_, err = st.StartRun(ctx, rec.Run)
	must(err)
	must(st.SetRunScope(ctx, rec.Run, []string{"javascript:alert(1)", "<b>bold</b>.tf"}, []string{"dev"}, nil))
	stages, err := st.EnsureStages(ctx, rec.Run, []store.StageKey{{Env: "dev", Name: "plan"}})
	must(err)
	must(st.StartStage(ctx, stages[0].ID))
	must(st.AppendLog(ctx, stages[0].ID, []string{"<script>alert('log')</script>"}))
	must(st.FinishStage(ctx, stages[0].ID, store.StageSucceeded, "", map[string]string{
		"summary":     "3 to add, 2 to change, 1 to destroy, 1 to replace",
		"fingerprint": `[{"address":"aws_db.main","actions":"delete,create"},{"address":"aws_s3.b","actions":"create"}]`,
	}))
	must(st.FinishRun(ctx, rec.Run, store.StatusSucceeded, ""))
	// A run of a repository whose name is a javascript: URL gets no links.
	_, err = st.Accept(ctx, event.Event{DeliveryID: "d2", Name: "push", Kind: event.KindDeploy, Repo: "javascript:alert(1)//x",
		SHA: "0123456789abcdef0123456789abcdef01234567", Ref: "refs/heads/main", PR: 3}, nil)
	must(err)
	must(st.RecordDeployment(ctx, store.Deployment{Repo: "acme/infra", Env: "dev", SHA: "0123456789abcdef0123456789abcdef01234567",
		RunID: rec.Run, Outcome: "succeeded", Note: "<script>alert('note')</script>"}))
	_, _, err = st.TryLock(ctx, "acme/infra", "dev", "run-1", rec.Run, time.Hour)
	must(err)
	_, _, err = st.RecordDriftCheck(ctx, store.DriftCheck{Repo: "acme/infra", Env: "dev", SHA: "0123456789abcdef0123456789abcdef01234567",
		RunID: rec.Run, Drifted: true, Fingerprint: "f",
		Report: `{"drift":[{"address":"aws_security_group.api","action":"update","attributes":[{"path":"description","before":"\"api\"","after":"\"<script>alert('drift')</script>\""}]}],"pending":[{"address":"terraform_data.release","action":"create"}]}`})
	must(err)
	return rec.Run
}

func pagesServer(t *testing.T, opts web.Options) (string, int64) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	run := seedPages(t, st)
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, opts)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, run
}

func getPage(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.String()
}

// Every page renders with the strict headers, and everything a pull request wrote shows as text.
func TestPagesRenderEscaped(t *testing.T) {
	base, run := pagesServer(t, web.Options{Approvals: fixedApprovals{
		{RunID: 1, Repo: "acme/infra", Env: "prod", State: "waiting", Summary: "<i>1 to add</i>"},
		{RunID: 2, Repo: "acme/infra", Env: "prod", State: "rejected", Reason: "<u>no</u>", DecidedBy: "alice"},
	}})
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{`x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;`, `href="/runs/1"`, `href="https://github.com/acme/infra/pull/7"`}},
		{"/?repo=acme%2Finfra&status=succeeded&kind=plan", []string{`value="acme/infra"`, `<option selected>succeeded</option>`}},
		{"/runs/1", []string{`&lt;img src=x onerror=alert(1)&gt;`, `javascript:alert(1)`, `&lt;b&gt;bold&lt;/b&gt;.tf`,
			`&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;`, `class="add">+3`, `class="replace">±1`, `aws_db.main`,
			`href="https://github.com/acme/infra/commit/0123456789abcdef0123456789abcdef01234567"`}},
		{"/environments", []string{`&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;`, "acme/infra · dev",
			`<strong>drift</strong>`, `aws_security_group.api changed outside Terraform: description &#34;api&#34; → &#34;&lt;script&gt;alert(&#39;drift&#39;)&lt;/script&gt;&#34;`,
			`terraform_data.release: the deployed code would create it`, `data-endpoint="/api/drift"`}},
		{"/locks", []string{`data-endpoint="/api/unlock"`, `name="reason" required`}},
		{"/approvals", []string{`&lt;i&gt;1 to add&lt;/i&gt;`, `&lt;u&gt;no&lt;/u&gt;`, `data-endpoint="/api/runs/1/approve"`, `data-endpoint="/api/runs/1/reject"`}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, h, body := getPage(t, base+tc.path)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			for k, v := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": wantCSP,
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, never := range []string{"<script>alert", "<img src=x", "<b>bold", `href="javascript:`, "<i>1", "<u>no", " style="} {
				if strings.Contains(body, never) {
					t.Errorf("the page contains %s", never)
				}
			}
			if n := strings.Count(body, "<script"); n != 1 {
				t.Errorf("%d script elements, want the one external script", n)
			}
		})
	}
	_ = run
}

func TestPagesRefuse(t *testing.T) {
	base, _ := pagesServer(t, web.Options{})
	for _, tc := range []struct {
		path string
		want int
		text string
	}{
		{"/runs/999", http.StatusNotFound, "no run 999"},
		{"/runs/abc", http.StatusBadRequest, "run id must be a number"},
		{"/?before=x", http.StatusBadRequest, "before must be a run id"},
		{"/approvals", http.StatusOK, "Approvals are not configured"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, h, body := getPage(t, base+tc.path)
			if code != tc.want || !strings.Contains(body, tc.text) {
				t.Errorf("status %d, want %d with %q: %s", code, tc.want, tc.text, body)
			}
			if h.Get("Content-Security-Policy") != wantCSP {
				t.Errorf("CSP = %q", h.Get("Content-Security-Policy"))
			}
		})
	}
}

// Without a token the pages show no action forms: acting needs the token.
func TestPagesOfferActionsOnlyWithAToken(t *testing.T) {
	base, _ := pagesServer(t, web.Options{})
	if _, _, body := getPage(t, base+"/locks"); strings.Contains(body, `id="as"`) {
		t.Error("the act-as field shows without a token")
	}
	withToken, _ := pagesServer(t, web.Options{Token: "t0k3n-0123456789", Actions: &fakeActor{}})
	req, _ := http.NewRequest(http.MethodGet, withToken+"/locks", nil)
	req.SetBasicAuth("operator", "t0k3n-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `id="as"`) {
		t.Error("the act-as field is missing with a token and actions")
	}
}

// The runs list pages by keyset: "older runs" carries the filters and the last id shown.
func TestRunsPaging(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := range 55 {
		if _, err := st.Accept(context.Background(), event.Event{DeliveryID: "p" + string(rune('a'+i/26)) + string(rune('a'+i%26)),
			Name: "push", Kind: event.KindDeploy, Repo: "acme/infra"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, _, body := getPage(t, srv.URL+"/?repo=acme%2Finfra")
	if !strings.Contains(body, `href="/?before=6&amp;repo=acme%2Finfra"`) {
		t.Errorf("no older link to before=6 with the filter:\n%s", body)
	}
	_, _, older := getPage(t, srv.URL+"/?before=6&repo=acme%2Finfra")
	if strings.Count(older, `<tr data-run=`) != 5 || strings.Contains(older, `id="older"`) {
		t.Errorf("the last page shows %d runs", strings.Count(older, `<tr data-run=`))
	}
}

func TestStaticFiles(t *testing.T) {
	base, _ := pagesServer(t, web.Options{})
	for _, tc := range []struct {
		path, contentType string
		want              int
	}{
		{"/static/dashboard.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/dashboard.css", "text/css; charset=utf-8", http.StatusOK},
		{"/static/", "", http.StatusNotFound},
		{"/static/nothing.js", "", http.StatusNotFound},
	} {
		code, h, _ := getPage(t, base+tc.path)
		if code != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, code, tc.want)
		}
		if tc.contentType != "" && (h.Get("Content-Type") != tc.contentType || h.Get("X-Content-Type-Options") != "nosniff") {
			t.Errorf("GET %s: Content-Type %q, nosniff %q", tc.path, h.Get("Content-Type"), h.Get("X-Content-Type-Options"))
		}
	}
}
