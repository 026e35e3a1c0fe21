package server

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

// The repository configuration has already applied its defaults, so every value it holds is what the
// user asked for: an explicit min_healthy_percentage of 0 (replace everything at once) must reach AWS as 0.
func TestRefreshInstancesSendsConfiguredMinHealthy(t *testing.T) {
	tests := []struct {
		name       string
		minHealthy int
	}{
		{"zero: all at once", 0},
		{"default", config.RefreshDefaultMinHealthyPercentage},
		{"one at a time", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeaws.StartAutoScaling()
			t.Cleanup(f.Close)
			f.AddGroup(fakeaws.Group{Name: "web", LaunchTemplateName: "web-lt", LaunchTemplateVersion: "7", Instances: 2})
			f.ScriptNextRefresh(fakeaws.Succeed, 0, "")
			r := NewRollouts(f.Client(), nil, RolloutTiming{RefreshPollMin: time.Millisecond, RefreshPollMax: 4 * time.Millisecond})
			p := config.Refresh{MinHealthyPercentage: tt.minHealthy, InProgress: config.RefreshWait, Timeout: 20 * time.Second}
			if _, err := r.RefreshInstances(context.Background(), "web", p, nil); err != nil {
				t.Fatal(err)
			}
			rs := f.Refreshes("web")
			if len(rs) != 1 {
				t.Fatalf("refreshes = %+v, want one", rs)
			}
			if got := aws.ToInt32(rs[0].Preferences.MinHealthyPercentage); rs[0].Preferences.MinHealthyPercentage == nil || int(got) != tt.minHealthy {
				t.Errorf("MinHealthyPercentage sent = %d (nil %t), want %d", got, rs[0].Preferences.MinHealthyPercentage == nil, tt.minHealthy)
			}
		})
	}
}
