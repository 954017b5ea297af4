package otlphttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// sink is an httptest collector that keeps the bodies posted to it.
type sink struct {
	srv    *httptest.Server
	bodies chan []byte
}

func newSink(t testing.TB) *sink {
	t.Helper()
	s := &sink{bodies: make(chan []byte, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.bodies <- b
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// sdkRequest returns what the SDK's otlptracehttp exporter posts for spans.
func sdkRequest(t *testing.T, spans []sdktrace.ReadOnlySpan) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	s := newSink(t)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.srv.URL+"/v1/traces"),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(ctx) }()
	if err := exp.ExportSpans(ctx, spans); err != nil {
		t.Fatalf("SDK exporter: %v", err)
	}
	return decodeRequest(t, <-s.bodies)
}

func decodeRequest(t testing.TB, b []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &req
}

// withLinkTraceStates sets, in the SDK's request, each link's trace_state, which the
// SDK v1.47 drops and this encoder writes (a deliberate difference).
func withLinkTraceStates(req *coltracepb.ExportTraceServiceRequest, spans []sdktrace.ReadOnlySpan) {
	bySpanID := make(map[trace.SpanID]sdktrace.ReadOnlySpan)
	for _, s := range spans {
		bySpanID[s.SpanContext().SpanID()] = s
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				src := bySpanID[trace.SpanID(sp.SpanId)]
				for i, l := range sp.Links {
					l.TraceState = src.Links()[i].SpanContext.TraceState().String()
				}
			}
		}
	}
}

// toSpans converts as ExportSpans does.
func toSpans(ros []sdktrace.ReadOnlySpan) []Span {
	out := make([]Span, len(ros))
	for i, sd := range ros {
		sc := sd.InstrumentationScope()
		out[i] = fromReadOnly(sd, &sc)
	}
	return out
}

// sortResourceSpans orders ResourceSpans by their resource (the SDK's order comes
// from a map).
func sortResourceSpans(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	key := func(rs *tracepb.ResourceSpans) string {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(rs.Resource)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%t %x %s", rs.Resource == nil, b, rs.SchemaUrl)
	}
	slices.SortStableFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int {
		return strings.Compare(key(a), key(b))
	})
}

// compare fails the test if AppendRequest (one resource) or ExportSpans (any) does
// not produce what the SDK's exporter posts for spans.
func compare(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	want := sdkRequest(t, spans)
	withLinkTraceStates(want, spans)

	single := true
	for _, s := range spans[1:] {
		if s.Resource() != spans[0].Resource() {
			single = false
		}
	}
	if single {
		got := decodeRequest(t, AppendRequest(nil, spans[0].Resource(), toSpans(spans)))
		if !proto.Equal(got, want) {
			t.Errorf("AppendRequest differs from the SDK exporter (-sdk +ours):\n%s", cmpDiff(want, got))
		}
	}

	s := newSink(t)
	exp, err := New(context.Background(), WithEndpointURL(s.srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	got := decodeRequest(t, <-s.bodies)
	sortResourceSpans(t, got)
	sortResourceSpans(t, want)
	if !proto.Equal(got, want) {
		t.Errorf("ExportSpans differs from the SDK exporter (-sdk +ours):\n%s", cmpDiff(want, got))
	}
}

// cmpDiff shows where the text forms of want and got first differ.
func cmpDiff(want, got proto.Message) string {
	opts := prototext.MarshalOptions{Multiline: true}
	w := strings.Split(opts.Format(want), "\n")
	g := strings.Split(opts.Format(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	from := max(0, i-8)
	var b strings.Builder
	for _, l := range w[from:min(len(w), i+4)] {
		fmt.Fprintf(&b, "-%s\n", l)
	}
	for _, l := range g[from:min(len(g), i+4)] {
		fmt.Fprintf(&b, "+%s\n", l)
	}
	return fmt.Sprintf("first difference at line %d:\n%s", i+1, b.String())
}

// zraftSpans records spans shaped like zraft's: a server span with 3 attributes and
// two events under a client span, both remote-parented from a W3C context.
func zraftSpans(n int, res *resource.Resource) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	tr := tp.Tracer("github.com/zraft/zraft/server", trace.WithInstrumentationVersion("v0.1.0"))
	ctx := context.Background()
	for i := range n {
		var tid trace.TraceID
		var sid trace.SpanID
		tid[0], tid[15] = byte(i), 1
		sid[7] = byte(i + 1)
		ts, _ := trace.ParseTraceState("zraft=1")
		rctx := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
		}))
		_, sp := tr.Start(rctx, "zraft.Submit", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("zraft.session_id", "0b9e7f52-3c1a-4d55-9a7e-2f4f8c6d1e90"),
				attribute.Int64("zraft.request_id", int64(i)),
				attribute.String("zraft.member_id", "node-1"),
			))
		sp.AddEvent("proposed")
		sp.AddEvent("applied")
		sp.End()
	}
	return rec.Ended()
}

func TestAppendRequestMatchesSDKZraftShape(t *testing.T) {
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "zraft"), attribute.String("service.instance.id", "node-1"))
	compare(t, zraftSpans(20, res))
}

// randomValue returns a random attribute value of any type, nested to depth.
func randomValue(r *rand.Rand, depth int) attribute.Value {
	n := r.IntN(4)
	kinds := 11
	if depth <= 0 {
		kinds = 9
	}
	switch r.IntN(kinds) {
	case 0:
		return attribute.BoolValue(r.IntN(2) == 0)
	case 1:
		return attribute.Int64Value(r.Int64() - r.Int64())
	case 2:
		f := []float64{0, -0.5, math.Inf(1), math.MaxFloat64, r.NormFloat64()}
		return attribute.Float64Value(f[r.IntN(len(f))])
	case 3:
		return attribute.StringValue(randomString(r))
	case 4:
		v := make([]bool, n)
		for i := range v {
			v[i] = r.IntN(2) == 0
		}
		return attribute.BoolSliceValue(v)
	case 5:
		v := make([]int64, n)
		for i := range v {
			v[i] = r.Int64() - r.Int64()
		}
		return attribute.Int64SliceValue(v)
	case 6:
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return attribute.Float64SliceValue(v)
	case 7:
		v := make([]string, n)
		for i := range v {
			v[i] = randomString(r)
		}
		return attribute.StringSliceValue(v)
	case 8:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return attribute.ByteSliceValue(b)
	case 9:
		v := make([]attribute.Value, n)
		for i := range v {
			v[i] = randomValue(r, depth-1)
		}
		return attribute.SliceValue(v...)
	default:
		return attribute.MapValue(randomAttrs(r, n, depth-1)...)
	}
}

var stringPool = []string{"", "a", "zraft.session_id", "héllo wörld", "日本語", "emoji 🙂", strings.Repeat("x", 200), "tab\tnew\nline"}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return fmt.Sprintf("s%d", r.IntN(1000))
	}
	return stringPool[r.IntN(len(stringPool))]
}

func randomAttrs(r *rand.Rand, n, depth int) []attribute.KeyValue {
	out := make([]attribute.KeyValue, n)
	for i := range out {
		out[i] = attribute.KeyValue{Key: attribute.Key(fmt.Sprintf("k%d.%s", i, randomString(r))), Value: randomValue(r, depth)}
		if r.IntN(20) == 0 {
			out[i].Value = attribute.Value{} // EMPTY
		}
	}
	return out
}

func randomSpanContext(r *rand.Rand, remote bool) trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range tid {
		tid[i] = byte(r.Uint32())
	}
	for i := range sid {
		sid[i] = byte(r.Uint32())
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(r.IntN(256)), Remote: remote}
	if r.IntN(2) == 0 {
		ts, err := trace.ParseTraceState(fmt.Sprintf("k%d=v%d,vendor@sys=x", r.IntN(9), r.IntN(9)))
		if err != nil {
			panic(err)
		}
		cfg.TraceState = ts
	}
	return trace.NewSpanContext(cfg)
}

func randomTime(r *rand.Rand) time.Time {
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, -5) // before 1970: clamped to 0
	default:
		return time.Unix(1_700_000_000, r.Int64N(1e15))
	}
}

// randomStubs returns n hand-made spans (tracetest.SpanStub) with random content in
// every field, over a few resources and scopes (including nil and empty ones).
func randomStubs(r *rand.Rand, n int, multiResource bool) []sdktrace.ReadOnlySpan {
	resources := []*resource.Resource{
		resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "zraft")),
		resource.NewSchemaless(),
		resource.NewSchemaless(attribute.Int("pid", 7), attribute.StringSlice("l", []string{"a", "b"})),
	}
	scopes := []instrumentation.Scope{
		{},
		{Name: "github.com/zraft/zraft/server", Version: "v1"},
		{Name: "client", SchemaURL: "https://opentelemetry.io/schemas/1.20.0"},
		{SchemaURL: "https://example.com/only-schema"},
		{Name: "attrs", Attributes: attribute.NewSet(attribute.String("a", "b"), attribute.Bool("c", true))},
	}
	kinds := []trace.SpanKind{0, trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient,
		trace.SpanKindProducer, trace.SpanKindConsumer, 42}
	stubs := make(tracetest.SpanStubs, n)
	res := resources[r.IntN(len(resources))]
	for i := range stubs {
		s := &stubs[i]
		if multiResource {
			res = resources[r.IntN(len(resources))]
		}
		s.Resource = res
		s.InstrumentationScope = scopes[r.IntN(len(scopes))]
		s.Name = randomString(r)
		s.SpanContext = randomSpanContext(r, false)
		switch r.IntN(3) {
		case 1:
			s.Parent = randomSpanContext(r, false)
		case 2:
			s.Parent = randomSpanContext(r, true)
		}
		s.SpanKind = kinds[r.IntN(len(kinds))]
		s.StartTime = randomTime(r)
		s.EndTime = randomTime(r)
		s.Attributes = randomAttrs(r, r.IntN(5), 2)
		for range r.IntN(4) {
			s.Events = append(s.Events, sdktrace.Event{
				Name: randomString(r), Time: randomTime(r), Attributes: randomAttrs(r, r.IntN(3), 1),
				DroppedAttributeCount: r.IntN(3),
			})
		}
		for range r.IntN(3) {
			s.Links = append(s.Links, sdktrace.Link{
				SpanContext: randomSpanContext(r, r.IntN(2) == 0), Attributes: randomAttrs(r, r.IntN(3), 1),
				DroppedAttributeCount: r.IntN(3),
			})
		}
		switch r.IntN(3) {
		case 1:
			s.Status = sdktrace.Status{Code: codes.Ok}
		case 2:
			s.Status = sdktrace.Status{Code: codes.Error, Description: randomString(r)}
		}
		counts := []int{0, 0, 1, 1000, -3, math.MaxInt}
		s.DroppedAttributes = counts[r.IntN(len(counts))]
		s.DroppedEvents = counts[r.IntN(len(counts))]
		s.DroppedLinks = counts[r.IntN(len(counts))]
		s.ChildSpanCount = r.IntN(3)
	}
	return stubs.Snapshots()
}

func TestAppendRequestMatchesSDKRandomStubs(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		spans := randomStubs(r, 1+r.IntN(12), seed%3 == 0)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { compare(t, spans) })
		if t.Failed() {
			return
		}
	}
}

func TestAppendRequestMatchesSDKNilResource(t *testing.T) {
	stubs := tracetest.SpanStubs{{Name: "no resource", SpanContext: randomSpanContext(rand.New(rand.NewPCG(1, 2)), false)}}
	compare(t, stubs.Snapshots())
}

// TestAppendRequestMatchesSDKRealProvider records spans with a real TracerProvider:
// limits (dropped counts, truncated values), remote and local parents, links,
// errors recorded as events, several tracers.
func TestAppendRequestMatchesSDKRealProvider(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	rec := tracetest.NewSpanRecorder()
	limits := sdktrace.NewSpanLimits()
	limits.AttributeCountLimit = 4
	limits.EventCountLimit = 3
	limits.LinkCountLimit = 2
	limits.AttributePerEventCountLimit = 2
	limits.AttributePerLinkCountLimit = 2
	limits.AttributeValueLengthLimit = 12
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "zraft"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res),
		sdktrace.WithRawSpanLimits(limits))
	tracers := []trace.Tracer{
		tp.Tracer("a"),
		tp.Tracer("b", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://example.com/s")),
		tp.Tracer("c", trace.WithInstrumentationAttributes(attribute.String("x", "y"))),
		tp.Tracer(""),
	}
	ctx := context.Background()
	for i := range 60 {
		tr := tracers[r.IntN(len(tracers))]
		pctx := ctx
		switch i % 3 {
		case 1:
			pctx = trace.ContextWithRemoteSpanContext(ctx, randomSpanContext(r, true))
		case 2:
			var parent trace.Span
			pctx, parent = tr.Start(ctx, "parent")
			defer parent.End()
		}
		var links []trace.Link
		for range r.IntN(4) {
			links = append(links, trace.Link{SpanContext: randomSpanContext(r, r.IntN(2) == 0), Attributes: randomAttrs(r, r.IntN(4), 1)})
		}
		_, sp := tr.Start(pctx, randomString(r), trace.WithSpanKind(trace.SpanKind(r.IntN(6))),
			trace.WithAttributes(randomAttrs(r, r.IntN(7), 2)...), trace.WithLinks(links...),
			trace.WithTimestamp(randomTime(r)))
		for range r.IntN(5) {
			sp.AddEvent(randomString(r), trace.WithAttributes(randomAttrs(r, r.IntN(4), 1)...))
		}
		switch r.IntN(4) {
		case 1:
			sp.SetStatus(codes.Ok, "ignored by the SDK")
		case 2:
			sp.RecordError(fmt.Errorf("boom %d", i))
			sp.SetStatus(codes.Error, "failed")
		}
		sp.End()
	}
	// The parents end last, after the loop; export what ended so far and then all.
	compare(t, rec.Ended())
}

// TestAppendRequestBytes pins a few encodings against proto.Marshal of the decoded
// request: both write fields in number order with minimal varints, so the bytes must
// be the same, which also checks that closeLen moves content correctly for messages
// whose length prefix took more (or fewer) bytes than reserved.
func TestAppendRequestBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	big := tracetest.SpanStubs{{
		Name:        strings.Repeat("n", 70_000), // a 3-byte span length, a 3-byte name length
		SpanContext: randomSpanContext(r, false),
		Attributes:  []attribute.KeyValue{attribute.String("s", strings.Repeat("v", 300))},
	}}.Snapshots()
	for _, spans := range [][]sdktrace.ReadOnlySpan{big, zraftSpans(3, resource.Empty()), randomStubs(r, 40, false)} {
		got := AppendRequest(nil, spans[0].Resource(), toSpans(spans))
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(decodeRequest(t, got))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendRequest bytes differ from proto.Marshal of their decoding (len %d vs %d)", len(got), len(want))
		}
	}
}

func TestAppendRequestEmpty(t *testing.T) {
	if b := AppendRequest([]byte("x"), resource.Empty(), nil); string(b) != "x" {
		t.Errorf("AppendRequest with no spans appended %q", b[1:])
	}
}

func TestAppendRequestInvalidUTF8(t *testing.T) {
	spans := []Span{{
		Name:       "bad\xff",
		Attributes: []attribute.KeyValue{attribute.String("k\xc3", "v\xe2\x82"), attribute.StringSlice("l", []string{"\x80"})},
		Events:     []sdktrace.Event{{Name: "\xfe"}},
		Status:     sdktrace.Status{Code: codes.Error, Description: "d\xff"},
	}}
	req := decodeRequest(t, AppendRequest(nil, nil, spans))
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if sp.Name != "bad\uFFFD" || sp.Attributes[0].Key != "k\uFFFD" || sp.Attributes[0].Value.GetStringValue() != "v\uFFFD" ||
		sp.Attributes[1].Value.GetArrayValue().Values[0].GetStringValue() != "\uFFFD" ||
		sp.Events[0].Name != "\uFFFD" || sp.Status.Message != "d\uFFFD" {
		t.Errorf("invalid UTF-8 not replaced: %v", sp)
	}
}

// TestAppendRequestNoAllocs: encoding zraft-shaped spans into a buffer with room does
// not allocate.
func TestAppendRequestNoAllocs(t *testing.T) {
	res := resource.NewSchemaless(attribute.String("service.name", "zraft"))
	spans := toSpans(zraftSpans(512, res))
	buf := AppendRequest(nil, res, spans)
	allocs := testing.AllocsPerRun(20, func() {
		buf = AppendRequest(buf[:0], res, spans)
	})
	if allocs != 0 {
		t.Errorf("AppendRequest of 512 spans: %v allocations, want 0", allocs)
	}
}

// TestAppendRequestStatusMessageOnlyForError: a description with a code other than
// Error is not sent (the SDK's span keeps none then; a recorder may).
func TestAppendRequestStatusMessageOnlyForError(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		want *tracepb.Status
	}{
		{codes.Unset, &tracepb.Status{}},
		{codes.Ok, &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}},
		{codes.Error, &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "why"}},
		{codes.Code(9), &tracepb.Status{}},
	} {
		spans := []Span{{Status: sdktrace.Status{Code: tc.code, Description: "why"}}}
		got := decodeRequest(t, AppendRequest(nil, nil, spans)).ResourceSpans[0].ScopeSpans[0].Spans[0].Status
		if !proto.Equal(got, tc.want) {
			t.Errorf("code %v: status %v, want %v", tc.code, got, tc.want)
		}
	}
}
