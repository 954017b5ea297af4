package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/zraft/zraft/protocol"
)

// ServerMetrics records a cluster member's measurements (ServerInstruments lists them).
// Its methods are safe for concurrent use, allocate nothing for the documented attribute
// values, and do nothing on a nil *ServerMetrics, so a component may hold one
// unconditionally.
type ServerMetrics struct {
	sessionsCreated, sessionsExpired, sessionsClosed metric.Int64Counter
	connections                                      metric.Int64UpDownCounter
	commands, queries                                metric.Int64Counter
	commitDuration, applyDuration                    metric.Float64Histogram
	redirects, rejections, malformed                 metric.Int64Counter
	srSent, srResent                                 metric.Int64Counter

	sessionsLive, srPending                 metric.Int64ObservableUpDownCounter
	raftTerm, raftCommitIndex, raftApplyLag metric.Int64ObservableGauge

	meter           metric.Meter
	commandOpts     [numOutcomes][]metric.AddOption
	queryOpts       [numConsistencies][numOutcomes][]metric.AddOption
	sessionRejected reasonOpts
	requestError    reasonOpts
	malformedOpts   [len(malformedKinds) + 1][]metric.AddOption
}

// NewServerMetrics creates every server instrument on meter (a nil meter means no-op).
// A meter from a no-op provider (go.opentelemetry.io/otel/metric/noop) makes recording
// cost a few nanoseconds.
func NewServerMetrics(meter metric.Meter) (*ServerMetrics, error) {
	if meter == nil {
		meter = noop.Meter{}
	}
	b := &builder{meter: meter}
	m := &ServerMetrics{
		meter:           meter,
		sessionsLive:    b.observableUpDownCounter(instSessionsLive),
		sessionsCreated: b.counter(instSessionsCreated),
		sessionsExpired: b.counter(instSessionsExpired),
		sessionsClosed:  b.counter(instSessionsClosed),
		connections:     b.upDownCounter(instConnections),
		commands:        b.counter(instCommands),
		queries:         b.counter(instQueries),
		commitDuration:  b.histogram(instCommitDuration),
		applyDuration:   b.histogram(instApplyDuration),
		redirects:       b.counter(instRedirects),
		rejections:      b.counter(instRejections),
		malformed:       b.counter(instMalformed),
		srPending:       b.observableUpDownCounter(instSRPending),
		srSent:          b.counter(instSRSent),
		srResent:        b.counter(instSRResent),
		raftTerm:        b.gauge(instRaftTerm),
		raftCommitIndex: b.gauge(instRaftCommitIndex),
		raftApplyLag:    b.gauge(instRaftApplyLag),
	}
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	for i, o := range outcomes {
		m.commandOpts[i] = addOpts(AttrOutcome.String(string(o)))
		for c := range numConsistencies {
			m.queryOpts[c][i] = addOpts(AttrConsistency.String(consistencyName(protocol.Consistency(c))),
				AttrOutcome.String(string(o)))
		}
	}
	m.sessionRejected = newReasonOpts("SessionRejected", func(v uint8) (string, bool) {
		r := protocol.RejectionReason(v)
		return r.String(), r.Known()
	})
	m.requestError = newReasonOpts("RequestError", func(v uint8) (string, bool) {
		r := protocol.RequestErrorReason(v)
		return r.String(), r.Known()
	})
	for i, k := range malformedKinds {
		m.malformedOpts[i] = addOpts(AttrErrorType.String(k.name))
	}
	m.malformedOpts[len(malformedKinds)] = addOpts(AttrErrorType.String("other"))
	return m, nil
}

// SessionCreated counts a session created (zraft.sessions.created).
func (m *ServerMetrics) SessionCreated(ctx context.Context) {
	if m != nil {
		m.sessionsCreated.Add(ctx, 1)
	}
}

// SessionExpired counts a session expired (zraft.sessions.expired).
func (m *ServerMetrics) SessionExpired(ctx context.Context) {
	if m != nil {
		m.sessionsExpired.Add(ctx, 1)
	}
}

// SessionClosed counts a session closed by its client (zraft.sessions.closed).
func (m *ServerMetrics) SessionClosed(ctx context.Context) {
	if m != nil {
		m.sessionsClosed.Add(ctx, 1)
	}
}

// ConnectionOpened counts a client connection opened (zraft.connections +1).
func (m *ServerMetrics) ConnectionOpened(ctx context.Context) {
	if m != nil {
		m.connections.Add(ctx, 1)
	}
}

// ConnectionClosed counts a client connection gone (zraft.connections −1). Call it
// exactly once for every ConnectionOpened.
func (m *ServerMetrics) ConnectionClosed(ctx context.Context) {
	if m != nil {
		m.connections.Add(ctx, -1)
	}
}

// CommandAnswered counts a command answered with outcome OutcomeApplied, OutcomeCached
// or OutcomeError (zraft.commands).
func (m *ServerMetrics) CommandAnswered(ctx context.Context, o Outcome) {
	if m == nil {
		return
	}
	if i := outcomeIndex(o); i >= 0 {
		m.commands.Add(ctx, 1, m.commandOpts[i]...)
		return
	}
	m.commands.Add(ctx, 1, addOpts(AttrOutcome.String(string(o)))...)
}

// QueryAnswered counts a query answered at read-consistency c (zero meaning the default,
// linearizable) with outcome OutcomeOK or OutcomeError (zraft.queries).
func (m *ServerMetrics) QueryAnswered(ctx context.Context, c protocol.Consistency, o Outcome) {
	if m == nil {
		return
	}
	if c == 0 {
		c = protocol.ConsistencyLinearizable
	}
	i := outcomeIndex(o)
	if int(c) < numConsistencies && i >= 0 {
		m.queries.Add(ctx, 1, m.queryOpts[c][i]...)
		return
	}
	m.queries.Add(ctx, 1, addOpts(AttrConsistency.String(consistencyName(c)), AttrOutcome.String(string(o)))...)
}

// CommitDuration records the time from proposing a command until its entry committed
// (zraft.server.commit.duration).
func (m *ServerMetrics) CommitDuration(ctx context.Context, d time.Duration) {
	if m != nil {
		m.commitDuration.Record(ctx, seconds(d))
	}
}

// ApplyDuration records the time the state machine took to apply one command
// (zraft.server.apply.duration).
func (m *ServerMetrics) ApplyDuration(ctx context.Context, d time.Duration) {
	if m != nil {
		m.applyDuration.Record(ctx, seconds(d))
	}
}

// Redirected counts an answer that sends a client to another member (zraft.redirects):
// a NotLeader SessionRejected or a NotLeaderAnymore SessionClosed. Such a
// SessionRejected is also a rejection; count it with SessionRejected too.
func (m *ServerMetrics) Redirected(ctx context.Context) {
	if m != nil {
		m.redirects.Add(ctx, 1)
	}
}

// SessionRejected counts a SessionRejected sent with reason r (zraft.rejections).
func (m *ServerMetrics) SessionRejected(ctx context.Context, r protocol.RejectionReason) {
	if m != nil {
		m.rejections.Add(ctx, 1, m.sessionRejected.get(uint8(r), r.String())...)
	}
}

// RequestRejected counts a RequestError sent with reason r (zraft.rejections).
func (m *ServerMetrics) RequestRejected(ctx context.Context, r protocol.RequestErrorReason) {
	if m != nil {
		m.rejections.Add(ctx, 1, m.requestError.get(uint8(r), r.String())...)
	}
}

// MalformedMessage counts a client message the decoder refused with err
// (zraft.malformed_messages), classified by the protocol sentinel err wraps.
func (m *ServerMetrics) MalformedMessage(ctx context.Context, err error) {
	if m != nil {
		m.malformed.Add(ctx, 1, m.malformedOpts[malformedIndex(err)]...)
	}
}

// ServerRequestSent counts a server-initiated request sent for the first time
// (zraft.server_requests.sent).
func (m *ServerMetrics) ServerRequestSent(ctx context.Context) {
	if m != nil {
		m.srSent.Add(ctx, 1)
	}
}

// ServerRequestResent counts a server-initiated request sent again
// (zraft.server_requests.resent).
func (m *ServerMetrics) ServerRequestResent(ctx context.Context) {
	if m != nil {
		m.srResent.Add(ctx, 1)
	}
}

// SessionState is a reading of the session gauges, taken from the member's replicated
// session state.
type SessionState struct {
	// Live is the number of sessions in the state (zraft.sessions.live).
	Live int64
	// PendingServerRequests is the number of server-initiated requests not yet
	// acknowledged, over all sessions (zraft.server_requests.pending).
	PendingServerRequests int64
}

// RaftState is a reading of the member's consensus gauges.
type RaftState struct {
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
}

// ObserveSessions registers read, called on every collection (from the SDK's goroutine,
// so it must be safe for concurrent use and quick), as the source of zraft.sessions.live
// and zraft.server_requests.pending. Register one source per member; unregister it when
// the state it reads goes away.
func (m *ServerMetrics) ObserveSessions(read func(context.Context) SessionState) (metric.Registration, error) {
	if m == nil {
		return noop.Registration{}, nil
	}
	return m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s := read(ctx)
		o.ObserveInt64(m.sessionsLive, s.Live)
		o.ObserveInt64(m.srPending, s.PendingServerRequests)
		return nil
	}, m.sessionsLive, m.srPending)
}

// ObserveRaft registers read as the source of zraft.raft.term, zraft.raft.commit_index
// and zraft.raft.apply_lag (commit index minus applied index, never below zero); the
// same rules as for ObserveSessions apply.
func (m *ServerMetrics) ObserveRaft(read func(context.Context) RaftState) (metric.Registration, error) {
	if m == nil {
		return noop.Registration{}, nil
	}
	return m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s := read(ctx)
		lag := uint64(0)
		if s.CommitIndex > s.AppliedIndex {
			lag = s.CommitIndex - s.AppliedIndex
		}
		o.ObserveInt64(m.raftTerm, clampInt64(s.Term))
		o.ObserveInt64(m.raftCommitIndex, clampInt64(s.CommitIndex))
		o.ObserveInt64(m.raftApplyLag, clampInt64(lag))
		return nil
	}, m.raftTerm, m.raftCommitIndex, m.raftApplyLag)
}

// numConsistencies bounds the consistency levels with precomputed attribute sets.
const numConsistencies = 4

// consistencyName is the metric attribute value of a consistency level: lower case
// names for the known levels, "unknown" for any other so that a hostile client cannot
// raise the attribute's cardinality.
func consistencyName(c protocol.Consistency) string {
	switch c {
	case protocol.ConsistencyLinearizable:
		return "linearizable"
	case protocol.ConsistencyLease:
		return "lease"
	case protocol.ConsistencyStale:
		return "stale"
	}
	return "unknown"
}

// reasonOpts holds the attribute sets of one rejection message's reasons.
type reasonOpts struct {
	message string
	known   [][]metric.AddOption // by reason code; nil for unknown codes
}

func newReasonOpts(message string, name func(uint8) (string, bool)) reasonOpts {
	r := reasonOpts{message: message}
	for v := 1; v < 256; v++ {
		n, ok := name(uint8(v))
		if !ok {
			break
		}
		for len(r.known) <= v {
			r.known = append(r.known, nil)
		}
		r.known[v] = addOpts(AttrMessage.String(message), AttrReason.String(n))
	}
	return r
}

// get returns the options for reason code v; codes unknown to the protocol package
// (at most 256 values, so cardinality stays bounded) are built on the fly.
func (r *reasonOpts) get(v uint8, name string) []metric.AddOption {
	if int(v) < len(r.known) && r.known[v] != nil {
		return r.known[v]
	}
	return addOpts(AttrMessage.String(r.message), AttrReason.String(name))
}

// malformedKinds are the values of error.type on zraft.malformed_messages, one per
// protocol decode sentinel; anything else is "other".
var malformedKinds = [...]struct {
	err  error
	name string
}{
	{protocol.ErrTooLarge, "too_large"},
	{protocol.ErrBadSignature, "bad_signature"},
	{protocol.ErrUnsupportedVersion, "unsupported_version"},
	{protocol.ErrUnknownCode, "unknown_code"},
	{protocol.ErrTruncated, "truncated"},
	{protocol.ErrInvalidLength, "invalid_length"},
	{protocol.ErrZeroNonce, "zero_nonce"},
	{protocol.ErrEmptyCapabilities, "empty_capabilities"},
	{protocol.ErrEmptyCorrelationID, "empty_correlation_id"},
	{protocol.ErrInvalidUTF8, "invalid_utf8"},
	{protocol.ErrNonZeroPadding, "non_zero_padding"},
	{protocol.ErrTrailingBytes, "trailing_bytes"},
	{protocol.ErrBadExtension, "bad_extension"},
	{protocol.ErrDuplicateExtension, "duplicate_extension"},
	{protocol.ErrInvalidValue, "invalid_value"},
}

// MalformedKinds returns the values error.type takes on zraft.malformed_messages.
func MalformedKinds() []string {
	out := make([]string, 0, len(malformedKinds)+1)
	for _, k := range malformedKinds {
		out = append(out, k.name)
	}
	return append(out, "other")
}

func malformedIndex(err error) int {
	for i, k := range malformedKinds {
		if errors.Is(err, k.err) {
			return i
		}
	}
	return len(malformedKinds)
}
