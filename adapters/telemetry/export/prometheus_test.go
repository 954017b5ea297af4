package export_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/export"
	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
	"github.com/zraft/zraft/protocol"
)

// recordAll records on every server and client instrument.
func recordAll(t *testing.T, s *telemetry.ServerMetrics, c *telemetry.ClientMetrics) {
	t.Helper()
	ctx := context.Background()
	s.SessionCreated(ctx)
	s.SessionExpired(ctx)
	s.SessionClosed(ctx)
	s.ConnectionOpened(ctx)
	s.CommandAnswered(ctx, telemetry.OutcomeApplied)
	s.QueryAnswered(ctx, protocol.ConsistencyLinearizable, telemetry.OutcomeOK)
	s.CommitDuration(ctx, time.Millisecond)
	s.ApplyDuration(ctx, time.Microsecond)
	s.Redirected(ctx)
	s.SessionRejected(ctx, protocol.RejectNotLeader)
	s.MalformedMessage(ctx, protocol.ErrTruncated)
	s.ServerRequestSent(ctx)
	s.ServerRequestResent(ctx)
	if _, err := s.ObserveSessions(func(context.Context) telemetry.SessionState {
		return telemetry.SessionState{Live: 2, PendingServerRequests: 1}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ObserveRaft(func(context.Context) telemetry.RaftState {
		return telemetry.RaftState{Term: 3, CommitIndex: 10, AppliedIndex: 8}
	}); err != nil {
		t.Fatal(err)
	}
	c.CommandDone(ctx, time.Millisecond, nil)
	c.QueryDone(ctx, time.Millisecond, errors.New("x"))
	c.Redirected(ctx)
	c.Connected(ctx)
	c.ServerRequestReceived(ctx)
}

func promType(k telemetry.Kind) string {
	switch k {
	case telemetry.KindCounter:
		return "counter"
	case telemetry.KindHistogram:
		return "histogram"
	}
	return "gauge"
}

// The admin /metrics endpoint serves every listed instrument in the text format, under
// the name, type and help the documentation gives.
func TestPrometheusHandlerServesEveryInstrument(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearOTELEnv(t)
	p := setup(t, export.Config{Prometheus: true})
	if !p.PrometheusEnabled() || !p.MetricsEnabled() || p.TracesEnabled() {
		t.Fatal("Config.Prometheus must turn on metrics only")
	}
	s, err := telemetry.NewServerMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	c, err := telemetry.NewClientMetrics(p.Meter())
	if err != nil {
		t.Fatal(err)
	}
	recordAll(t, s, c)

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	text := string(body)
	for _, inst := range append(telemetry.ServerInstruments(), telemetry.ClientInstruments()...) {
		name := inst.PrometheusName()
		for _, want := range []string{
			"# HELP " + name + " " + inst.Description + "\n",
			"# TYPE " + name + " " + promType(inst.Kind) + "\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: /metrics lacks %q", inst.Name, want)
			}
		}
	}
	for _, want := range []string{
		`zraft_raft_apply_lag{otel_scope_name="github.com/zraft/zraft",otel_scope_schema_url="",otel_scope_version=""} 2`,
		`zraft_rejections_total{otel_scope_name="github.com/zraft/zraft",otel_scope_schema_url="",otel_scope_version="",zraft_message="SessionRejected",zraft_reason="NotLeader"} 1`,
		`zraft_server_commit_duration_seconds_bucket{otel_scope_name="github.com/zraft/zraft",otel_scope_schema_url="",otel_scope_version="",le="0.001"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// OTEL_METRICS_EXPORTER=prometheus turns the endpoint on too.
func TestPrometheusFromEnv(t *testing.T) {
	setEnv(t, "OTEL_METRICS_EXPORTER", "prometheus")
	p := setup(t, export.Config{})
	if !p.PrometheusEnabled() {
		t.Fatal("OTEL_METRICS_EXPORTER=prometheus ignored")
	}
}
