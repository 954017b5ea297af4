package telemetry

import "go.opentelemetry.io/otel/attribute"

// ScopeName is the instrumentation scope zraft's tracers and meters use by default, e.g.
// otel.Tracer(telemetry.ScopeName) or provider.Meter(telemetry.ScopeName).
const ScopeName = "github.com/zraft/zraft"

// Span names zraft uses, so that client and member name the steps of a command alike
// (docs/operations-telemetry.md shows how they nest).
const (
	// SpanClientSubmit: the client's whole Submit call (kind client).
	SpanClientSubmit = "zraft.client.submit"
	// SpanClientQuery: the client's whole Query call (kind client).
	SpanClientQuery = "zraft.client.query"
	// SpanClientServerRequest: the client handling a server-initiated request (kind consumer).
	SpanClientServerRequest = "zraft.client.server_request"
	// SpanServerCommand: a member handling a ClientRequest, from receipt to reply (kind server).
	SpanServerCommand = "zraft.server.command"
	// SpanServerQuery: a member handling a Query, from receipt to reply (kind server).
	SpanServerQuery = "zraft.server.query"
	// SpanServerRequest: a member sending a server-initiated request (kind producer).
	SpanServerRequest = "zraft.server.server_request"
)

// Event names zraft records on its spans: the steps of a command on the member that
// handles it, between the span's start (receipt) and end (reply).
const (
	// EventProposed: the command was handed to the Raft log (on SpanServerCommand).
	EventProposed = "proposed"
	// EventApplied: the command's entry committed and the state machine applied it (on
	// SpanServerCommand; the member learns both at once).
	EventApplied = "applied"
)

// Attribute keys used on zraft's spans and metrics. Span attributes may have high
// cardinality (ids); metric attributes never carry ids.
const (
	// AttrSessionID is the client session's id (spans only).
	AttrSessionID = attribute.Key("zraft.session.id")
	// AttrRequestID is a command's or a server request's request id (spans only).
	AttrRequestID = attribute.Key("zraft.request.id")
	// AttrCorrelationID is a query's correlation id (spans only).
	AttrCorrelationID = attribute.Key("zraft.correlation.id")
	// AttrMemberID is the cluster member a client talks to, or a member's own id (spans only).
	AttrMemberID = attribute.Key("zraft.member.id")
	// AttrOutcome is how a command or query ended (metrics): see the Outcome constants.
	AttrOutcome = attribute.Key("zraft.outcome")
	// AttrOperation tells commands from queries (metrics): "command" or "query".
	AttrOperation = attribute.Key("zraft.operation")
	// AttrConsistency is a query's read-consistency level (metrics), e.g. "linearizable".
	AttrConsistency = attribute.Key("zraft.consistency")
	// AttrMessage is the protocol message that carried a rejection (metrics):
	// "SessionRejected" or "RequestError".
	AttrMessage = attribute.Key("zraft.message")
	// AttrReason is a rejection's reason as the protocol names it (metrics), e.g. "NotLeader".
	AttrReason = attribute.Key("zraft.reason")
	// AttrErrorType classifies a malformed message by its decode error (metrics), e.g.
	// "truncated"; see MalformedMessage.
	AttrErrorType = attribute.Key("error.type")
)

// Outcome is the value of AttrOutcome.
type Outcome string

// Outcomes of a command or query.
const (
	// OutcomeApplied: a command applied by the state machine for the first time.
	OutcomeApplied Outcome = "applied"
	// OutcomeCached: a retried command answered from the session's response cache.
	OutcomeCached Outcome = "cached"
	// OutcomeOK: a query answered, or (client side) a command or query that got its result.
	OutcomeOK Outcome = "ok"
	// OutcomeError: answered with an error (RequestError, or a client-side failure).
	OutcomeError Outcome = "error"
)
