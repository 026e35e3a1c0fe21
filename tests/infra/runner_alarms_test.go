package infra_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/metrics"
)

// TestRunnerAlarms: the alarms read what the runner logs. The queue's age comes from the line the runner
// writes every RUNNER_QUEUE_LOG_EVERY (internal/metrics names its message and field), failed deploys from
// the pipeline's "run finished" line; each alarm reads its filter's metric.
func TestRunnerAlarms(t *testing.T) {
	p := loadRunnerExample(t)

	queue := p.appliedNamed(t, "aws_cloudwatch_log_metric_filter", "queue_age")
	if want := fmt.Sprintf(`{ $.msg = %q }`, metrics.QueueLogMessage); queue.str("pattern") != want {
		t.Errorf("%s: pattern %q, want %q (the runner's queue line)", queue.address, queue.str("pattern"), want)
	}
	mt := block(queue.after, "metric_transformation")
	if mt["value"] != "$."+metrics.QueueLogAgeField {
		t.Errorf("%s: value %v, want $.%s", queue.address, mt["value"], metrics.QueueLogAgeField)
	}
	failed := p.appliedNamed(t, "aws_cloudwatch_log_metric_filter", "failed_deploys")
	for _, part := range []string{`$.msg = "run finished"`, `$.kind = "deploy"`, `$.status = "failed"`} {
		if !strings.Contains(failed.str("pattern"), part) {
			t.Errorf("%s: pattern %q lacks %s", failed.address, failed.str("pattern"), part)
		}
	}

	for _, c := range []struct {
		alarm, filter, statistic string
	}{{"queue_age", "queue_age", "Maximum"}, {"failed_deploys", "failed_deploys", "Sum"}} {
		a := p.appliedNamed(t, "aws_cloudwatch_metric_alarm", c.alarm)
		f := p.appliedNamed(t, "aws_cloudwatch_log_metric_filter", c.filter)
		ft := block(f.after, "metric_transformation")
		if a.str("metric_name") != ft["name"] || a.str("namespace") != ft["namespace"] {
			t.Errorf("%s reads %s/%s, its filter writes %v/%v", a.address, a.str("namespace"), a.str("metric_name"), ft["namespace"], ft["name"])
		}
		if a.str("statistic") != c.statistic {
			t.Errorf("%s: statistic %s, want %s", a.address, a.str("statistic"), c.statistic)
		}
	}
	if th, _ := p.appliedNamed(t, "aws_cloudwatch_metric_alarm", "queue_age").after["threshold"].(float64); th < 60 {
		t.Errorf("queue age alarm threshold %v s, want at least a minute", th)
	}
}
