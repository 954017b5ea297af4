package telemetry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

func newMeter(t testing.TB) (metric.Meter, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp.Meter(telemetry.ScopeName), reader
}

func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, dup := out[m.Name]; dup {
				t.Errorf("%s collected twice", m.Name)
			}
			out[m.Name] = m
		}
	}
	return out
}

// checkInstruments checks that exactly the listed instruments were collected, with
// their unit, description and kind, and returns them by name.
func checkInstruments(t *testing.T, list []telemetry.Instrument, got map[string]metricdata.Metrics) {
	t.Helper()
	if len(got) != len(list) {
		t.Errorf("collected %d instruments, %d listed", len(got), len(list))
	}
	for _, inst := range list {
		m, ok := got[inst.Name]
		if !ok {
			t.Errorf("%s: not collected", inst.Name)
			continue
		}
		if m.Unit != inst.Unit || m.Description != inst.Description {
			t.Errorf("%s: unit %q description %q", inst.Name, m.Unit, m.Description)
		}
		if got, want := aggregation(m.Data), wantAggregation(inst.Kind); got != want {
			t.Errorf("%s: collected a %s, listed as %s (a %s)", inst.Name, got, inst.Kind, want)
		}
	}
}

// aggregation names what an instrument's data aggregates to, from the collected data
// (data) or from the listed kind (want).
func aggregation(data metricdata.Aggregation) string {
	switch v := data.(type) {
	case metricdata.Sum[int64]:
		if v.IsMonotonic {
			return "monotonic sum"
		}
		return "sum"
	case metricdata.Histogram[float64]:
		return "histogram"
	case metricdata.Gauge[int64]:
		return "gauge"
	}
	return fmt.Sprintf("%T", data)
}

func wantAggregation(k telemetry.Kind) string {
	switch k {
	case telemetry.KindCounter:
		return "monotonic sum"
	case telemetry.KindUpDownCounter, telemetry.KindObservableUpDownCounter:
		return "sum"
	case telemetry.KindHistogram:
		return "histogram"
	case telemetry.KindObservableGauge:
		return "gauge"
	}
	return "unknown kind " + string(k)
}

// value returns the sum or gauge value of the point with exactly attrs.
func value(t *testing.T, m metricdata.Metrics, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	var points []metricdata.DataPoint[int64]
	switch v := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = v.DataPoints
	case metricdata.Gauge[int64]:
		points = v.DataPoints
	default:
		t.Fatalf("%s: %T has no int64 points", m.Name, m.Data)
	}
	for _, p := range points {
		if p.Attributes.Equals(&want) {
			return p.Value
		}
	}
	t.Fatalf("%s: no point with %v", m.Name, want.Encoded(attribute.DefaultEncoder()))
	return 0
}

func histogram(t *testing.T, m metricdata.Metrics, attrs ...attribute.KeyValue) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	want := attribute.NewSet(attrs...)
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if p.Attributes.Equals(&want) {
			return p
		}
	}
	t.Fatalf("%s: no point with %v", m.Name, want.Encoded(attribute.DefaultEncoder()))
	return metricdata.HistogramDataPoint[float64]{}
}

// recordServer records on every server instrument at least once.
func recordServer(t testing.TB, m *telemetry.ServerMetrics) {
	t.Helper()
	ctx := context.Background()
	m.SessionCreated(ctx)
	m.SessionCreated(ctx)
	m.SessionExpired(ctx)
	m.SessionClosed(ctx)
	m.ConnectionOpened(ctx)
	m.ConnectionOpened(ctx)
	m.ConnectionClosed(ctx)
	m.CommandAnswered(ctx, telemetry.OutcomeApplied)
	m.CommandAnswered(ctx, telemetry.OutcomeApplied)
	m.CommandAnswered(ctx, telemetry.OutcomeCached)
	m.QueryAnswered(ctx, 0, telemetry.OutcomeOK)
	m.QueryAnswered(ctx, protocol.ConsistencyStale, telemetry.OutcomeOK)
	m.QueryAnswered(ctx, protocol.Consistency(99), telemetry.OutcomeError)
	m.CommitDuration(ctx, 3*time.Millisecond)
	m.ApplyDuration(ctx, 20*time.Microsecond)
	m.Redirected(ctx)
	m.SessionRejected(ctx, protocol.RejectNotLeader)
	m.SessionRejected(ctx, protocol.RejectionReason(200))
	m.RequestRejected(ctx, protocol.ErrorOverloaded)
	_, err := protocol.DecodeClientMessage([]byte("zraft\x01\x04"))
	m.MalformedMessage(ctx, err)
	m.MalformedMessage(ctx, fmt.Errorf("not from the decoder"))
	m.ServerRequestSent(ctx)
	m.ServerRequestResent(ctx)
	if _, err := m.ObserveSessions(func(context.Context) telemetry.SessionState {
		return telemetry.SessionState{Live: 5, PendingServerRequests: 3}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ObserveRaft(func(context.Context) telemetry.RaftState {
		return telemetry.RaftState{Term: 4, CommitIndex: 100, AppliedIndex: 97}
	}); err != nil {
		t.Fatal(err)
	}
}

func TestServerMetricsRecordEveryInstrument(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := telemetry.NewServerMetrics(meter)
	if err != nil {
		t.Fatal(err)
	}
	recordServer(t, m)
	got := collect(t, reader)
	checkInstruments(t, telemetry.ServerInstruments(), got)

	for name, want := range map[string]int64{
		"zraft.sessions.created":        2,
		"zraft.sessions.expired":        1,
		"zraft.sessions.closed":         1,
		"zraft.connections":             1,
		"zraft.redirects":               1,
		"zraft.server_requests.sent":    1,
		"zraft.server_requests.resent":  1,
		"zraft.sessions.live":           5,
		"zraft.server_requests.pending": 3,
		"zraft.raft.term":               4,
		"zraft.raft.commit_index":       100,
		"zraft.raft.apply_lag":          3,
	} {
		if v := value(t, got[name]); v != want {
			t.Errorf("%s = %d, want %d", name, v, want)
		}
	}
	outcome := func(o telemetry.Outcome) attribute.KeyValue { return telemetry.AttrOutcome.String(string(o)) }
	if v := value(t, got["zraft.commands"], outcome(telemetry.OutcomeApplied)); v != 2 {
		t.Errorf("applied commands %d", v)
	}
	if v := value(t, got["zraft.commands"], outcome(telemetry.OutcomeCached)); v != 1 {
		t.Errorf("cached commands %d", v)
	}
	if v := value(t, got["zraft.queries"], telemetry.AttrConsistency.String("linearizable"), outcome(telemetry.OutcomeOK)); v != 1 {
		t.Errorf("default-consistency queries %d (zero must count as linearizable)", v)
	}
	if v := value(t, got["zraft.queries"], telemetry.AttrConsistency.String("stale"), outcome(telemetry.OutcomeOK)); v != 1 {
		t.Errorf("stale queries %d", v)
	}
	if v := value(t, got["zraft.queries"], telemetry.AttrConsistency.String("unknown"), outcome(telemetry.OutcomeError)); v != 1 {
		t.Errorf("unknown-consistency queries %d", v)
	}
	rej := func(msg, reason string) int64 {
		return value(t, got["zraft.rejections"], telemetry.AttrMessage.String(msg), telemetry.AttrReason.String(reason))
	}
	if rej("SessionRejected", "NotLeader") != 1 || rej("SessionRejected", "Unknown(200)") != 1 || rej("RequestError", "Overloaded") != 1 {
		t.Error("rejections by reason wrong")
	}
	if v := value(t, got["zraft.malformed_messages"], telemetry.AttrErrorType.String("truncated")); v != 1 {
		t.Errorf("truncated messages %d", v)
	}
	if v := value(t, got["zraft.malformed_messages"], telemetry.AttrErrorType.String("other")); v != 1 {
		t.Errorf("other malformed messages %d", v)
	}
	commit := histogram(t, got["zraft.server.commit.duration"])
	if commit.Count != 1 || commit.Sum != 0.003 {
		t.Errorf("commit duration count %d sum %v, want 1 and 0.003 s", commit.Count, commit.Sum)
	}
	if len(commit.Bounds) < 10 || commit.Bounds[0] > 0.001 || commit.Bounds[len(commit.Bounds)-1] < 5 {
		t.Errorf("bucket bounds %v do not cover 1ms..5s", commit.Bounds)
	}
}

func TestClientMetricsRecordEveryInstrument(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := telemetry.NewClientMetrics(meter)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m.CommandDone(ctx, 2*time.Millisecond, nil)
	m.CommandDone(ctx, 4*time.Millisecond, nil)
	m.CommandDone(ctx, time.Second, context.DeadlineExceeded)
	m.QueryDone(ctx, time.Millisecond, nil)
	m.QueryDone(ctx, time.Millisecond, context.Canceled)
	m.Redirected(ctx)
	m.Connected(ctx)
	m.Connected(ctx)
	m.ServerRequestReceived(ctx)
	got := collect(t, reader)
	checkInstruments(t, telemetry.ClientInstruments(), got)

	ok, failed := telemetry.AttrOutcome.String("ok"), telemetry.AttrOutcome.String("error")
	cmd, query := telemetry.AttrOperation.String("command"), telemetry.AttrOperation.String("query")
	if value(t, got["zraft.client.commands"], ok) != 2 || value(t, got["zraft.client.commands"], failed) != 1 ||
		value(t, got["zraft.client.queries"], ok) != 1 || value(t, got["zraft.client.queries"], failed) != 1 {
		t.Error("command/query counts wrong")
	}
	if p := histogram(t, got["zraft.client.roundtrip.duration"], cmd, ok); p.Count != 2 || p.Sum != 0.006 {
		t.Errorf("command round trips: count %d sum %v", p.Count, p.Sum)
	}
	if p := histogram(t, got["zraft.client.roundtrip.duration"], query, failed); p.Count != 1 {
		t.Errorf("failed query round trips: count %d", p.Count)
	}
	if value(t, got["zraft.client.redirects"]) != 1 || value(t, got["zraft.client.connects"]) != 2 ||
		value(t, got["zraft.client.server_requests"]) != 1 {
		t.Error("redirects/connects/server requests wrong")
	}
}

func TestObserverUnregisters(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := telemetry.NewServerMetrics(meter)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	reg, err := m.ObserveRaft(func(context.Context) telemetry.RaftState {
		calls++
		return telemetry.RaftState{Term: 1, CommitIndex: 5, AppliedIndex: 9} // applied ahead: lag 0
	})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, reader)
	if value(t, got["zraft.raft.apply_lag"]) != 0 {
		t.Error("negative lag not clamped to 0")
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	collect(t, reader)
	if calls != 1 {
		t.Errorf("callback called %d times, want 1 (once before unregistering)", calls)
	}
}

// Nil metrics and a nil meter are valid: a component holds metrics unconditionally.
func TestNilAndNoopMetrics(t *testing.T) {
	var s *telemetry.ServerMetrics
	recordServer(t, s)
	var c *telemetry.ClientMetrics
	c.CommandDone(context.Background(), time.Second, nil)
	c.QueryDone(context.Background(), time.Second, nil)
	c.Redirected(context.Background())
	c.Connected(context.Background())
	c.ServerRequestReceived(context.Background())

	s, err := telemetry.NewServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	recordServer(t, s)
	if _, err := telemetry.NewClientMetrics(noop.Meter{}); err != nil {
		t.Fatal(err)
	}
}

// Recording allocates nothing, with telemetry off or on, for the documented values.
func TestRecordingDoesNotAllocate(t *testing.T) {
	sdkMeter, _ := newMeter(t)
	for name, meter := range map[string]metric.Meter{"noop": noop.Meter{}, "sdk": sdkMeter} {
		s, err := telemetry.NewServerMetrics(meter)
		if err != nil {
			t.Fatal(err)
		}
		c, err := telemetry.NewClientMetrics(meter)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		allocs := testing.AllocsPerRun(100, func() {
			s.CommandAnswered(ctx, telemetry.OutcomeApplied)
			s.QueryAnswered(ctx, protocol.ConsistencyLease, telemetry.OutcomeOK)
			s.SessionRejected(ctx, protocol.RejectNotLeader)
			s.CommitDuration(ctx, time.Millisecond)
			s.ConnectionOpened(ctx)
			c.CommandDone(ctx, time.Millisecond, nil)
			c.QueryDone(ctx, time.Millisecond, context.Canceled)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per round", name, allocs)
		}
	}
}

// Two instrument lists never share a name, so a process with a client and a server in
// it exports both without a conflict.
func TestInstrumentNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range append(telemetry.ServerInstruments(), telemetry.ClientInstruments()...) {
		if seen[i.Name] || seen[i.PrometheusName()] {
			t.Errorf("%s listed twice", i.Name)
		}
		seen[i.Name], seen[i.PrometheusName()] = true, true
		if i.Description == "" || i.Unit == "" {
			t.Errorf("%s lacks unit or description", i.Name)
		}
	}
}
