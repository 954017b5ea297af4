package telemetry

import (
	"slices"
	"strings"
)

// Kind is the OpenTelemetry instrument kind of an Instrument.
type Kind string

// Instrument kinds zraft uses.
const (
	KindCounter                 Kind = "Counter"
	KindUpDownCounter           Kind = "UpDownCounter"
	KindHistogram               Kind = "Histogram"
	KindObservableGauge         Kind = "ObservableGauge"
	KindObservableUpDownCounter Kind = "ObservableUpDownCounter"
)

// Instrument describes one zraft metric: the single place its name, unit, description and
// attributes are written down. ServerMetrics and ClientMetrics create their instruments
// from these descriptions; docs/operations-telemetry.md lists them (a test keeps the two
// in step).
type Instrument struct {
	Name        string
	Kind        Kind
	Unit        string
	Description string
	// Attributes are the metric attribute keys a measurement may carry.
	Attributes []string
}

// PrometheusName is the name the Prometheus exporter gives the instrument with zraft's
// settings (underscore escaping with suffixes): dots become underscores, seconds get
// "_seconds", counters get "_total". Annotations like "{session}" add no suffix.
func (i Instrument) PrometheusName() string {
	n := strings.ReplaceAll(i.Name, ".", "_")
	if i.Unit == "s" {
		n += "_seconds"
	}
	if i.Kind == KindCounter {
		n += "_total"
	}
	return n
}

// latencyBuckets are the explicit bucket boundaries, in seconds, of zraft's duration
// histograms: from 250µs (a commit on a fast LAN) to 10s (a client retrying through an
// election). The SDK's default boundaries start at 5 (meant for milliseconds).
var latencyBuckets = []float64{
	0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

var (
	instSessionsLive = Instrument{"zraft.sessions.live", KindObservableUpDownCounter, "{session}",
		"Sessions in this member's replicated state (open, not yet expired or closed).", nil}
	instSessionsCreated = Instrument{"zraft.sessions.created", KindCounter, "{session}",
		"Sessions created (CreateSession applied), counted by the member that answered the client.", nil}
	instSessionsExpired = Instrument{"zraft.sessions.expired", KindCounter, "{session}",
		"Sessions expired for lack of keep-alives, counted by the leader that expired them.", nil}
	instSessionsClosed = Instrument{"zraft.sessions.closed", KindCounter, "{session}",
		"Sessions closed by their client (CloseSession applied).", nil}
	instConnections = Instrument{"zraft.connections", KindUpDownCounter, "{connection}",
		"Client connections currently open to this member.", nil}
	instCommands = Instrument{"zraft.commands", KindCounter, "{command}",
		"Commands (ClientRequest) this member answered; the rate is the command throughput.",
		[]string{string(AttrOutcome)}}
	instQueries = Instrument{"zraft.queries", KindCounter, "{query}",
		"Queries this member answered; the rate is the query throughput.",
		[]string{string(AttrConsistency), string(AttrOutcome)}}
	instCommitDuration = Instrument{"zraft.server.commit.duration", KindHistogram, "s",
		"Time from proposing a command to the Raft log until its entry is committed.", nil}
	instApplyDuration = Instrument{"zraft.server.apply.duration", KindHistogram, "s",
		"Time the state machine took to apply one committed command.", nil}
	instRedirects = Instrument{"zraft.redirects", KindCounter, "{message}",
		"Answers that sent a client to another member (NotLeader, NotLeaderAnymore, with or without a leader hint).", nil}
	instRejections = Instrument{"zraft.rejections", KindCounter, "{message}",
		"Session and request rejections sent to clients, by message and reason.",
		[]string{string(AttrMessage), string(AttrReason)}}
	instMalformed = Instrument{"zraft.malformed_messages", KindCounter, "{message}",
		"Messages from clients the decoder refused, by the kind of decode error.",
		[]string{string(AttrErrorType)}}
	instSRPending = Instrument{"zraft.server_requests.pending", KindObservableUpDownCounter, "{request}",
		"Server-initiated requests sent but not yet acknowledged, over all sessions.", nil}
	instSRSent = Instrument{"zraft.server_requests.sent", KindCounter, "{request}",
		"Server-initiated requests sent to clients for the first time.", nil}
	instSRResent = Instrument{"zraft.server_requests.resent", KindCounter, "{request}",
		"Server-initiated requests sent again because no acknowledgement came in time or the client reconnected.", nil}
	instRaftTerm = Instrument{"zraft.raft.term", KindObservableGauge, "{term}",
		"This member's current Raft term.", nil}
	instRaftCommitIndex = Instrument{"zraft.raft.commit_index", KindObservableGauge, "{entry}",
		"Index of the last Raft log entry this member knows to be committed.", nil}
	instRaftApplyLag = Instrument{"zraft.raft.apply_lag", KindObservableGauge, "{entry}",
		"Committed entries this member has not applied yet (commit index minus applied index).", nil}

	instClientRoundtrip = Instrument{"zraft.client.roundtrip.duration", KindHistogram, "s",
		"Client-observed time from submitting a command or query to receiving its result, retries and redirects included.",
		[]string{string(AttrOperation), string(AttrOutcome)}}
	instClientCommands = Instrument{"zraft.client.commands", KindCounter, "{command}",
		"Commands the client completed, by outcome.", []string{string(AttrOutcome)}}
	instClientQueries = Instrument{"zraft.client.queries", KindCounter, "{query}",
		"Queries the client completed, by outcome.", []string{string(AttrOutcome)}}
	instClientRedirects = Instrument{"zraft.client.redirects", KindCounter, "{message}",
		"Times the client was sent to another member (NotLeader answers and leader changes).", nil}
	instClientConnects = Instrument{"zraft.client.connects", KindCounter, "{connection}",
		"Connections the client established (first connection and reconnections).", nil}
	instClientServerRequests = Instrument{"zraft.client.server_requests", KindCounter, "{request}",
		"Server-initiated requests the client received, duplicates included.", nil}
)

// ServerInstruments lists every instrument ServerMetrics creates.
func ServerInstruments() []Instrument {
	return cloned(
		instSessionsLive, instSessionsCreated, instSessionsExpired, instSessionsClosed,
		instConnections, instCommands, instQueries, instCommitDuration, instApplyDuration,
		instRedirects, instRejections, instMalformed, instSRPending, instSRSent, instSRResent,
		instRaftTerm, instRaftCommitIndex, instRaftApplyLag,
	)
}

// ClientInstruments lists every instrument ClientMetrics creates.
func ClientInstruments() []Instrument {
	return cloned(
		instClientRoundtrip, instClientCommands, instClientQueries, instClientRedirects,
		instClientConnects, instClientServerRequests,
	)
}

// cloned copies the descriptions, so that a caller changing them changes nothing here.
func cloned(list ...Instrument) []Instrument {
	for i := range list {
		list[i].Attributes = slices.Clone(list[i].Attributes)
	}
	return list
}
