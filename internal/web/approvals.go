package web

import "context"

// Approvals lists deploys waiting for approval and the decisions taken on recent ones.
type Approvals interface {
	Approvals(ctx context.Context) ([]ApprovalView, error)
}

// ApprovalView is one deploy's approval, as the dashboard shows it. Times are RFC 3339 text.
type ApprovalView struct {
	RunID       int64  `json:"run_id"`
	Repo        string `json:"repo"`
	Env         string `json:"env"`
	State       string `json:"state"` // waiting, approved, rejected, expired ...
	Summary     string `json:"summary,omitempty"`
	Why         string `json:"why,omitempty"` // why approval is needed
	RequestedAt string `json:"requested_at,omitempty"`
	Expires     string `json:"expires,omitempty"`
	DecidedBy   string `json:"decided_by,omitempty"`
	Channel     string `json:"channel,omitempty"` // the channel the decision came by
	Reason      string `json:"reason,omitempty"`
	DecidedAt   string `json:"decided_at,omitempty"`
}
