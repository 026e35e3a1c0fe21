package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func testApprovalsAreDecidedOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	rec, err := s.Accept(ctx, testEvent("d-1", "acme/infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.RequestApproval(ctx, Approval{RunID: rec.Run, Repo: "acme/infra", Env: "prod", PR: 7, SHA: "abc", Author: "bob",
		Why: "prod requires approval", Summary: "1 to add", PlanSHA256: "p1", Expires: time.Now().Add(time.Hour)})
	if err != nil || a.State != ApprovalWaiting || a.ID == 0 {
		t.Fatalf("request = %+v, %v", a, err)
	}
	// Asking again for the same plan returns the same request; another plan makes the first stale.
	if again, err := s.RequestApproval(ctx, Approval{RunID: rec.Run, Env: "prod", PlanSHA256: "p1", Expires: time.Now()}); err != nil || again.ID != a.ID {
		t.Fatalf("same plan = %+v, %v", again, err)
	}
	b, err := s.RequestApproval(ctx, Approval{RunID: rec.Run, Repo: "acme/infra", Env: "prod", PR: 7, PlanSHA256: "p2", Expires: time.Now().Add(time.Hour)})
	if err != nil || b.ID == a.ID {
		t.Fatalf("new plan = %+v, %v", b, err)
	}
	if list, _ := s.Approvals(ctx, ApprovalFilter{Repo: "acme/infra", State: ApprovalStale}); len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("stale = %+v", list)
	}
	got, err := s.DecideApproval(ctx, b.ID, ApprovalApproved, "alice", "slack", "looks good")
	if err != nil || got.State != ApprovalApproved || got.DecidedBy != "alice" || got.Channel != "slack" || got.Decided.IsZero() {
		t.Fatalf("decide = %+v, %v", got, err)
	}
	if _, err := s.DecideApproval(ctx, b.ID, ApprovalRejected, "mallory", "comment", ""); !errors.Is(err, ErrDecided) {
		t.Fatalf("second decision err = %v", err)
	}
	cur, err := s.CurrentApproval(ctx, rec.Run, "prod")
	if err != nil || cur.ID != b.ID || cur.State != ApprovalApproved || cur.DecidedBy != "alice" {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if _, err := s.CurrentApproval(ctx, rec.Run, "dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no approval err = %v", err)
	}
}

func TestApprovalsAreDecidedOnce(t *testing.T) { bothDrivers(t, testApprovalsAreDecidedOnce) }
