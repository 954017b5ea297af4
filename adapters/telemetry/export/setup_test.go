package export_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/export"
	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
)

func setup(t *testing.T, cfg export.Config) *export.Provider {
	t.Helper()
	p, err := export.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// Off by default: no-op providers, no goroutine, no /metrics.
func TestOffByDefault(t *testing.T) {
	clearOTELEnv(t)
	before := runtime.NumGoroutine()
	p := setup(t, export.Config{ServiceName: "zraftd"})
	if p.TracesEnabled() || p.MetricsEnabled() || p.PrometheusEnabled() {
		t.Fatal("something is on without configuration")
	}
	_, span := p.Tracer().Start(context.Background(), "op")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("the no-op tracer records")
	}
	span.End()
	m, err := telemetry.NewServerMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	m.SessionCreated(context.Background())
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before Setup, %d after", before, n)
	}
	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "OTEL_METRICS_EXPORTER=prometheus") {
		t.Errorf("/metrics when off: %d %q", rec.Code, rec.Body.String())
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSDKDisabledWins(t *testing.T) {
	setEnv(t, "OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "console", "OTEL_METRICS_EXPORTER", "prometheus")
	p := setup(t, export.Config{Console: true, SpanExporters: []sdktrace.SpanExporter{tracetest.NewInMemoryExporter()}})
	if p.TracesEnabled() || p.MetricsEnabled() {
		t.Fatal("OTEL_SDK_DISABLED=true did not turn everything off")
	}
}

func TestConfigurationErrors(t *testing.T) {
	for _, c := range []struct {
		env  []string
		cfg  export.Config
		want error
	}{
		{[]string{"OTEL_TRACES_EXPORTER", "zipkin"}, export.Config{}, export.ErrUnknownExporter},
		{[]string{"OTEL_TRACES_EXPORTER", "prometheus"}, export.Config{}, export.ErrUnknownExporter},
		{[]string{"OTEL_METRICS_EXPORTER", "none,console"}, export.Config{}, export.ErrUnknownExporter},
		{nil, export.Config{Metrics: "otlp,bogus"}, export.ErrUnknownExporter},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}, export.Config{}, export.ErrUnsupportedProtocol},
		{[]string{"OTEL_METRICS_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp"}, export.Config{}, export.ErrUnsupportedProtocol},
		{[]string{"OTEL_RESOURCE_ATTRIBUTES", "a=1,novalue"}, export.Config{Traces: "console"}, export.ErrInvalidEnv},
	} {
		t.Run(strings.Join(c.env, "=")+c.cfg.Metrics, func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			setEnv(t, c.env...)
			p, err := export.Setup(context.Background(), c.cfg)
			if !errors.Is(err, c.want) || p != nil {
				t.Fatalf("Setup = %v, %v; want error %v", p, err, c.want)
			}
		})
	}
}

// A value of OTEL_SDK_DISABLED other than true or false is reported, not ignored.
func TestSDKDisabledInvalid(t *testing.T) {
	setEnv(t, "OTEL_SDK_DISABLED", "yes")
	var (
		mu       sync.Mutex
		reported []error
	)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	}))
	// Back to what the default handler does (restoring the default delegator itself
	// would make it delegate to this test's handler).
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) }))
	p := setup(t, export.Config{Traces: "console", ConsoleWriter: io.Discard})
	if !p.TracesEnabled() {
		t.Error("an invalid OTEL_SDK_DISABLED disabled telemetry")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], export.ErrInvalidEnv) {
		t.Errorf("reported %v", reported)
	}
}

// A failing metrics set-up releases the tracing it had already started.
func TestSetupErrorReleasesWhatItStarted(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	setEnv(t, "OTEL_TRACES_EXPORTER", "console", "OTEL_METRICS_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp")
	if _, err := export.Setup(context.Background(), export.Config{ConsoleWriter: io.Discard}); !errors.Is(err, export.ErrUnsupportedProtocol) {
		t.Fatal(err)
	}
}

// The console exporters write spans and metrics, with the resource from the
// environment overriding the Config's, and the Config's flag overriding an unset env.
func TestConsoleExporters(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	setEnv(t, "OTEL_SERVICE_NAME", "from-env", "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,service.instance.id=env-node")
	var out bytes.Buffer
	p, err := export.Setup(context.Background(), export.Config{ServiceName: "from-config", ServiceVersion: "v9.9.9",
		InstanceID: "node-1", Console: true, ConsoleWriter: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !p.TracesEnabled() || !p.MetricsEnabled() || p.PrometheusEnabled() {
		t.Fatal("Console did not turn on exactly traces and metrics")
	}
	_, span := p.Tracer().Start(context.Background(), "zraft.submit")
	span.End()
	m, err := telemetry.NewClientMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	m.Connected(context.Background())
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	s := out.String()
	for _, want := range []string{`"zraft.submit"`, `"zraft.client.connects"`, `"from-env"`, `"v9.9.9"`, `"env-node"`, `"test"`} {
		if !strings.Contains(s, want) {
			t.Errorf("console output lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "from-config") || strings.Contains(s, `"node-1"`) {
		t.Error("the Config's resource values won over the environment's")
	}
}

// OTEL_TRACES_SAMPLER is honoured, and Config.Sampler overrides it.
func TestSamplerFromEnv(t *testing.T) {
	setEnv(t, "OTEL_TRACES_SAMPLER", "always_off")
	mem := tracetest.NewInMemoryExporter()
	p := setup(t, export.Config{SpanExporters: []sdktrace.SpanExporter{mem}})
	_, span := p.Tracer().Start(context.Background(), "dropped")
	span.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if span.IsRecording() || len(mem.GetSpans()) != 0 {
		t.Fatal("always_off sampled a span")
	}
	q := setup(t, export.Config{Sampler: sdktrace.AlwaysSample(), SpanExporters: []sdktrace.SpanExporter{mem}})
	_, span = q.Tracer().Start(context.Background(), "kept")
	span.End()
	if err := q.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(mem.GetSpans()) != 1 {
		t.Fatal("Config.Sampler did not override the environment")
	}
}

// Every sampler the specification names for OTEL_TRACES_SAMPLER, with its argument,
// decides as it should: under a sampled and an unsampled remote parent, and as a root.
func TestSamplerNames(t *testing.T) {
	sampled := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true}))
	unsampled := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true}))
	for _, c := range []struct {
		sampler, arg             string
		sampled, unsampled, root bool
	}{
		{"", "", true, false, true},
		{"parentbased_always_on", "", true, false, true},
		{"always_on", "", true, true, true},
		{"always_off", "", false, false, false},
		{"parentbased_always_off", "", true, false, false},
		{"traceidratio", "0", false, false, false},
		{"traceidratio", "1", true, true, true},
		{"parentbased_traceidratio", "0", true, false, false},
		{"PARENTBASED_TRACEIDRATIO", "1", true, false, true},
	} {
		t.Run(c.sampler+"="+c.arg, func(t *testing.T) {
			setEnv(t, "OTEL_TRACES_SAMPLER", c.sampler, "OTEL_TRACES_SAMPLER_ARG", c.arg)
			p := setup(t, export.Config{SpanExporters: []sdktrace.SpanExporter{tracetest.NewInMemoryExporter()}})
			for _, x := range []struct {
				what string
				ctx  context.Context
				want bool
			}{{"sampled parent", sampled, c.sampled}, {"unsampled parent", unsampled, c.unsampled},
				{"root", context.Background(), c.root}} {
				_, span := p.Tracer().Start(x.ctx, "s")
				if got := span.SpanContext().IsSampled(); got != x.want {
					t.Errorf("%s: sampled %v, want %v", x.what, got, x.want)
				}
				span.End()
			}
		})
	}
}

// Bad sampler and batching variables stop Setup with ErrInvalidEnv.
func TestTraceEnvErrors(t *testing.T) {
	for _, env := range [][]string{
		{"OTEL_TRACES_SAMPLER", "jaeger_remote"},
		{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"},
		{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "half"},
		{"OTEL_BSP_SCHEDULE_DELAY", "soon"},
		{"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
		{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-3"},
		{"OTEL_BSP_EXPORT_TIMEOUT", "1.5"},
	} {
		t.Run(strings.Join(env, "="), func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			setEnv(t, env...)
			p, err := export.Setup(context.Background(), export.Config{Traces: "console", ConsoleWriter: io.Discard})
			if !errors.Is(err, export.ErrInvalidEnv) || p != nil {
				t.Fatalf("Setup = %v, %v; want ErrInvalidEnv", p, err)
			}
		})
	}
}

// OTEL_BSP_MAX_EXPORT_BATCH_SIZE and OTEL_BSP_SCHEDULE_DELAY shape the batches.
func TestBatchEnv(t *testing.T) {
	setEnv(t, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3", "OTEL_BSP_SCHEDULE_DELAY", "3600000")
	exp := &batchSizes{}
	p := setup(t, export.Config{SpanExporters: []sdktrace.SpanExporter{exp}})
	for range 7 {
		_, span := p.Tracer().Start(context.Background(), "s")
		span.End()
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	exp.mu.Lock()
	defer exp.mu.Unlock()
	total := 0
	for _, n := range exp.sizes {
		if n > 3 {
			t.Fatalf("batch sizes %v, want none above 3", exp.sizes)
		}
		total += n
	}
	if total != 7 {
		t.Fatalf("batch sizes %v, want 7 spans in all", exp.sizes)
	}
}

// batchSizes is an exporter that records the size of each batch.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, len(spans))
	return nil
}

func (b *batchSizes) Shutdown(context.Context) error { return nil }

// Two processes, each with its own Provider and in-memory exporter (as the client and
// server tests will set them up): the member's span is a child of the client's, in the
// same trace, after the context went through an encoded message.
func TestOneTraceAcrossTwoProviders(t *testing.T) {
	clearOTELEnv(t)
	clientSpans, serverSpans := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	client := setup(t, export.Config{ServiceName: "client", SpanExporters: []sdktrace.SpanExporter{clientSpans}})
	server := setup(t, export.Config{ServiceName: "zraftd", SpanExporters: []sdktrace.SpanExporter{serverSpans}})

	ctx, submit := client.Tracer().Start(context.Background(), telemetry.SpanClientSubmit, trace.WithSpanKind(trace.SpanKindClient))
	wire := encodeRequest(t, ctx)
	serverCtx := telemetry.Extract(context.Background(), decodeRequest(t, wire).Ext)
	_, receive := server.Tracer().Start(serverCtx, telemetry.SpanServerCommand, trace.WithSpanKind(trace.SpanKindServer))
	receive.End()
	submit.End()
	for _, p := range []*export.Provider{client, server} {
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	c, s := clientSpans.GetSpans(), serverSpans.GetSpans()
	if len(c) != 1 || len(s) != 1 {
		t.Fatalf("%d client spans, %d server spans", len(c), len(s))
	}
	if s[0].SpanContext.TraceID() != c[0].SpanContext.TraceID() || s[0].Parent.SpanID() != c[0].SpanContext.SpanID() {
		t.Fatal("the server span does not continue the client's trace")
	}
	if got := s[0].Resource.Attributes(); !strings.Contains(attrString(got), "service.name=zraftd") {
		t.Errorf("server resource %v", got)
	}
}

// MetricReaders turn metrics on with the caller's reader.
func TestMetricReaders(t *testing.T) {
	clearOTELEnv(t)
	reader := sdkmetric.NewManualReader()
	p := setup(t, export.Config{MetricReaders: []sdkmetric.Reader{reader}})
	if p.TracesEnabled() || !p.MetricsEnabled() {
		t.Fatal("a metric reader must turn on metrics only")
	}
	m, err := telemetry.NewServerMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	m.Redirected(context.Background())
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != telemetry.ScopeName {
		t.Fatalf("%+v", rm.ScopeMetrics)
	}
}
