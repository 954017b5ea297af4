package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ClientMetrics records a zraft client's measurements (ClientInstruments lists them).
// Its methods are safe for concurrent use, allocate nothing, and do nothing on a nil
// *ClientMetrics.
type ClientMetrics struct {
	roundtrip                                metric.Float64Histogram
	commands, queries                        metric.Int64Counter
	redirects, connects, serverRequests      metric.Int64Counter
	cmdOK, cmdErr, queryOK, queryErr         []metric.AddOption
	rtCmdOK, rtCmdErr, rtQueryOK, rtQueryErr []metric.RecordOption
}

// NewClientMetrics creates every client instrument on meter (a nil meter means no-op).
func NewClientMetrics(meter metric.Meter) (*ClientMetrics, error) {
	if meter == nil {
		meter = noop.Meter{}
	}
	b := &builder{meter: meter}
	m := &ClientMetrics{
		roundtrip:      b.histogram(instClientRoundtrip),
		commands:       b.counter(instClientCommands),
		queries:        b.counter(instClientQueries),
		redirects:      b.counter(instClientRedirects),
		connects:       b.counter(instClientConnects),
		serverRequests: b.counter(instClientServerRequests),
	}
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	ok, failed := AttrOutcome.String(string(OutcomeOK)), AttrOutcome.String(string(OutcomeError))
	cmd, query := AttrOperation.String("command"), AttrOperation.String("query")
	m.cmdOK, m.cmdErr = addOpts(ok), addOpts(failed)
	m.queryOK, m.queryErr = m.cmdOK, m.cmdErr
	m.rtCmdOK, m.rtCmdErr = recordOpts(cmd, ok), recordOpts(cmd, failed)
	m.rtQueryOK, m.rtQueryErr = recordOpts(query, ok), recordOpts(query, failed)
	return m, nil
}

// CommandDone records a command that completed after d, successfully when err is nil
// (zraft.client.commands and zraft.client.roundtrip.duration).
func (m *ClientMetrics) CommandDone(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	if err == nil {
		m.commands.Add(ctx, 1, m.cmdOK...)
		m.roundtrip.Record(ctx, seconds(d), m.rtCmdOK...)
		return
	}
	m.commands.Add(ctx, 1, m.cmdErr...)
	m.roundtrip.Record(ctx, seconds(d), m.rtCmdErr...)
}

// QueryDone records a query that completed after d, successfully when err is nil
// (zraft.client.queries and zraft.client.roundtrip.duration).
func (m *ClientMetrics) QueryDone(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	if err == nil {
		m.queries.Add(ctx, 1, m.queryOK...)
		m.roundtrip.Record(ctx, seconds(d), m.rtQueryOK...)
		return
	}
	m.queries.Add(ctx, 1, m.queryErr...)
	m.roundtrip.Record(ctx, seconds(d), m.rtQueryErr...)
}

// Redirected counts the client being sent to another member (zraft.client.redirects).
func (m *ClientMetrics) Redirected(ctx context.Context) {
	if m != nil {
		m.redirects.Add(ctx, 1)
	}
}

// Connected counts a connection established (zraft.client.connects).
func (m *ClientMetrics) Connected(ctx context.Context) {
	if m != nil {
		m.connects.Add(ctx, 1)
	}
}

// ServerRequestReceived counts a server-initiated request received
// (zraft.client.server_requests).
func (m *ClientMetrics) ServerRequestReceived(ctx context.Context) {
	if m != nil {
		m.serverRequests.Add(ctx, 1)
	}
}
