// Package otlpcollector is an in-process stand-in for an OpenTelemetry collector's OTLP/HTTP traces receiver
// (POST /v1/traces, protobuf, optionally gzip), keeping the spans it was sent for assertions.
package otlpcollector

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, flattened.
type Span struct {
	Name         string
	TraceID      string // hex
	SpanID       string // hex
	ParentSpanID string // hex; "" for a root span
	Kind         string // e.g. SPAN_KIND_CLIENT
	Attributes   map[string]string
	StatusError  bool   // status code ERROR
	StatusText   string // the status message
	Service      string // the resource's service.name
	Resource     map[string]string
	Scope        string // the instrumentation scope's name
	Events       []string
}

// Collector is a running fake. Close it when done.
type Collector struct {
	srv *httptest.Server

	mu       sync.Mutex
	spans    []Span
	requests int
	headers  []http.Header
}

// Start listens on 127.0.0.1.
func Start() *Collector {
	c := &Collector{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", c.traces)
	c.srv = httptest.NewServer(mux)
	return c
}

// URL is the collector's base URL: the value of OTEL_EXPORTER_OTLP_ENDPOINT.
func (c *Collector) URL() string { return c.srv.URL }

// Close stops the fake.
func (c *Collector) Close() { c.srv.Close() }

// Requests counts the export requests received.
func (c *Collector) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Headers are the headers of each export request received.
func (c *Collector) Headers() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.headers...)
}

// Spans are the spans received so far, in arrival order.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// WaitFor polls until ok holds of the spans received, or within has passed; it returns the spans and
// whether ok held.
func (c *Collector) WaitFor(within time.Duration, ok func([]Span) bool) ([]Span, bool) {
	deadline := time.Now().Add(within)
	for {
		s := c.Spans()
		if ok(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			return s, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Collector) traces(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct+" is not application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, 16<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = gz
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, "decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{
					Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					Kind: s.GetKind().String(), Attributes: attrs(s.GetAttributes()), Resource: res, Service: res["service.name"],
					Scope: ss.GetScope().GetName(), StatusText: s.GetStatus().GetMessage(),
					StatusError: s.GetStatus().GetCode().String() == "STATUS_CODE_ERROR",
				}
				if len(s.GetParentSpanId()) > 0 {
					sp.ParentSpanID = hex.EncodeToString(s.GetParentSpanId())
				}
				for _, e := range s.GetEvents() {
					ea := attrs(e.GetAttributes())
					sp.Events = append(sp.Events, strings.TrimSpace(e.GetName()+" "+ea["exception.message"]))
				}
				got = append(got, sp)
			}
		}
	}
	c.mu.Lock()
	c.requests++
	c.headers = append(c.headers, r.Header.Clone())
	c.spans = append(c.spans, got...)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

func value(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, value(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return ""
}

// Named returns the spans called name.
func Named(spans []Span, name string) []Span {
	var out []Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// WithPrefix returns the spans whose name starts with prefix.
func WithPrefix(spans []Span, prefix string) []Span {
	var out []Span
	for _, s := range spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// ByID indexes spans by span id.
func ByID(spans []Span) map[string]Span {
	m := make(map[string]Span, len(spans))
	for _, s := range spans {
		m[s.SpanID] = s
	}
	return m
}

// Tree renders the spans as an indented tree (children sorted by name), for test failure messages.
func Tree(spans []Span) string {
	children := map[string][]Span{}
	ids := ByID(spans)
	var roots []Span
	for _, s := range spans {
		if _, ok := ids[s.ParentSpanID]; s.ParentSpanID == "" || !ok {
			roots = append(roots, s)
			continue
		}
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	var b strings.Builder
	var walk func(s Span, depth int)
	walk = func(s Span, depth int) {
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth), s.Name)
		kids := children[s.SpanID]
		sort.Slice(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Name < roots[j].Name })
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}
