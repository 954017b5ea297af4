package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/zraft/zraft/protocol"
)

// meterName is the instrumentation scope of the client's instruments.
const meterName = "github.com/zraft/zraft/client"

// WithMeterProvider records the client's metrics with mp: zraft.client.commands and
// zraft.client.queries (by zraft.outcome: ok or error), zraft.client.roundtrip.duration
// (seconds, retries and redirects included, by zraft.operation and zraft.outcome),
// zraft.client.connects, zraft.client.redirects (NotLeader answers and leader changes)
// and zraft.client.server_requests (received, duplicates included). The names and
// attributes are those of adapters/telemetry's ClientInstruments.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProvider = mp }
}

// metrics holds the instruments; a nil *metrics records nothing. The instruments are
// defined here rather than taken from adapters/telemetry because that module also
// holds the exporters (gRPC, Prometheus), which would all enter the client's module
// graph.
type metrics struct {
	roundtrip                             metric.Float64Histogram
	commands, queries                     metric.Int64Counter
	connects, redirects, serverRequests   metric.Int64Counter
	ok, failed                            metric.AddOption
	rtCmdOK, rtCmdErr, rtQueryOK, rtQuery metric.RecordOption
}

func newMetrics(o *options) (*metrics, error) {
	if o.meterProvider == nil {
		return nil, nil
	}
	meter := o.meterProvider.Meter(meterName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	m := &metrics{
		commands:       counter("zraft.client.commands", "{command}", "Commands the client completed, by outcome."),
		queries:        counter("zraft.client.queries", "{query}", "Queries the client completed, by outcome."),
		connects:       counter("zraft.client.connects", "{connection}", "Connections the client established (first connection and reconnections)."),
		redirects:      counter("zraft.client.redirects", "{message}", "Times the client was sent to another member (NotLeader answers and leader changes)."),
		serverRequests: counter("zraft.client.server_requests", "{request}", "Server-initiated requests the client received, duplicates included."),
	}
	var err error
	m.roundtrip, err = meter.Float64Histogram("zraft.client.roundtrip.duration", metric.WithUnit("s"),
		metric.WithDescription("Client-observed time from submitting a command or query to receiving its result, retries and redirects included."),
		metric.WithExplicitBucketBoundaries(0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: meter provider: %w", ErrInvalidOption, err)
	}
	outcome, op := attribute.Key("zraft.outcome"), attribute.Key("zraft.operation")
	ok, failed := outcome.String("ok"), outcome.String("error")
	m.ok = metric.WithAttributeSet(attribute.NewSet(ok))
	m.failed = metric.WithAttributeSet(attribute.NewSet(failed))
	rec := func(kvs ...attribute.KeyValue) metric.RecordOption {
		return metric.WithAttributeSet(attribute.NewSet(kvs...))
	}
	m.rtCmdOK, m.rtCmdErr = rec(op.String("command"), ok), rec(op.String("command"), failed)
	m.rtQueryOK, m.rtQuery = rec(op.String("query"), ok), rec(op.String("query"), failed)
	return m, nil
}

// done records a completed call.
func (m *metrics) done(query bool, d time.Duration, err error) {
	if m == nil {
		return
	}
	ctx := context.Background()
	counter, add, rec := m.commands, m.ok, m.rtCmdOK
	switch {
	case query && err == nil:
		counter, rec = m.queries, m.rtQueryOK
	case query:
		counter, add, rec = m.queries, m.failed, m.rtQuery
	case err != nil:
		add, rec = m.failed, m.rtCmdErr
	}
	counter.Add(ctx, 1, add)
	m.roundtrip.Record(ctx, d.Seconds(), rec)
}

func (m *metrics) connected() {
	if m != nil {
		m.connects.Add(context.Background(), 1)
	}
}

// frame counts what the metrics want to know of a received frame: redirects
// (SessionRejected NotLeader, SessionClosed NotLeaderAnymore; in both the reason is the
// byte after the 7-byte header) and server requests.
func (m *metrics) frame(b []byte) {
	if m == nil || len(b) < 8 {
		return
	}
	ctx := context.Background()
	switch protocol.ServerCode(b[6]) {
	case protocol.CodeSessionRejected:
		if protocol.RejectionReason(b[7]) == protocol.RejectNotLeader {
			m.redirects.Add(ctx, 1)
		}
	case protocol.CodeSessionClosed:
		if protocol.SessionCloseReason(b[7]) == protocol.CloseNotLeaderAnymore {
			m.redirects.Add(ctx, 1)
		}
	case protocol.CodeServerRequest:
		m.serverRequests.Add(ctx, 1)
	}
}
