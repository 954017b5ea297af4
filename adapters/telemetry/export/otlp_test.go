package export_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/export"
	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
)

// collector is a minimal OTLP receiver: it keeps the span and metric names it is sent,
// and the service.name of their resources.
type collector struct {
	mu       sync.Mutex
	spans    []string
	metrics  []string
	services []string
}

func (c *collector) addTraces(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.services = append(c.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s.GetName())
			}
		}
	}
}

func (c *collector) addMetrics(req *colmetricpb.ExportMetricsServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				c.metrics = append(c.metrics, m.GetName())
			}
		}
	}
}

func (c *collector) check(t *testing.T, span, metric, service string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	has := func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	}
	if !has(c.spans, span) || !has(c.metrics, metric) || !has(c.services, service) {
		t.Errorf("collector got spans %v metrics %v services %v; want %s, %s, %s",
			c.spans, c.metrics, c.services, span, metric, service)
	}
}

// exportOnce records one span and one measurement through a Provider set up from the
// environment, and shuts it down, which must flush both to the collector.
func exportOnce(t *testing.T) {
	t.Helper()
	p, err := export.Setup(context.Background(), export.Config{ServiceName: "zraftd"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.TracesEnabled() || !p.MetricsEnabled() || p.PrometheusEnabled() {
		t.Fatal("otlp did not turn on traces and metrics")
	}
	_, span := p.Tracer().Start(context.Background(), "zraft.command")
	span.End()
	m, err := telemetry.NewServerMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	m.SessionCreated(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOTLPOverHTTP(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	var c collector
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/v1/traces":
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c.addTraces(&req)
			b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
			_, _ = w.Write(b)
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c.addMetrics(&req)
			b, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
			_, _ = w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	setEnv(t, "OTEL_TRACES_EXPORTER", "otlp", "OTEL_METRICS_EXPORTER", "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL,
		"OTEL_SERVICE_NAME", "zraftd-http")
	exportOnce(t)
	srv.CloseClientConnections()
	c.check(t, "zraft.command", "zraft.sessions.created", "zraftd-http")
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	colmetricpb.UnimplementedMetricsServiceServer
	c *collector
}

func (g grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.c.addTraces(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type grpcMetricsCollector struct {
	colmetricpb.UnimplementedMetricsServiceServer
	c *collector
}

func (g grpcMetricsCollector) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	g.c.addMetrics(req)
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func TestOTLPOverGRPC(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	var c collector
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, grpcCollector{c: &c})
	colmetricpb.RegisterMetricsServiceServer(srv, grpcMetricsCollector{c: &c})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	defer func() { srv.Stop(); <-done }()

	// The signal-specific protocol variables win over the general one.
	setEnv(t, "OTEL_TRACES_EXPORTER", "otlp", "OTEL_METRICS_EXPORTER", "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String(), "OTEL_SERVICE_NAME", "zraftd-grpc")
	exportOnce(t)
	c.check(t, "zraft.command", "zraft.sessions.created", "zraftd-grpc")
}
