package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// spanLog records the runner's OpenTelemetry spans when BENCH_SPANS=1, so that a benchmark can print
// where one run's time went (runs, stages, Terraform commands, outbound calls) as a waterfall.
type spanLog struct {
	rec *tracetest.SpanRecorder
	tp  *sdktrace.TracerProvider
}

func newSpanLog() *spanLog {
	if os.Getenv("BENCH_SPANS") == "" {
		return nil
	}
	rec := tracetest.NewSpanRecorder()
	return &spanLog{rec: rec, tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))}
}

// print logs the spans that started at or after since, in start order, as offsets from since.
func (s *spanLog) print(b *testing.B, title string, since time.Time) {
	b.Helper()
	if s == nil {
		return
	}
	var spans []sdktrace.ReadOnlySpan
	for _, sp := range s.rec.Ended() {
		if !sp.StartTime().Before(since) {
			spans = append(spans, sp)
		}
	}
	slices.SortFunc(spans, func(a, c sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(c.StartTime()) })
	var out strings.Builder
	fmt.Fprintf(&out, "spans of %s (ms from the webhook sent):\n", title)
	for _, sp := range spans {
		var attrs []string
		for _, kv := range sp.Attributes() {
			attrs = append(attrs, fmt.Sprintf("%s=%s", kv.Key, kv.Value.Emit()))
		}
		fmt.Fprintf(&out, "%8.1f %8.1f  %-40s %s\n", ms(sp.StartTime().Sub(since)), ms(sp.EndTime().Sub(sp.StartTime())),
			sp.Name(), strings.Join(attrs, " "))
	}
	b.Log(out.String())
	fmt.Print(out.String())
}
