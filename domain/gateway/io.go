package gateway

import (
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// RoutingID identifies one client connection of the member's SERVER socket. The
// transport chooses it and never reuses it while the gateway may still refer to it.
type RoutingID uint64

// Input is what Step accepts: Message, ConnectionClosed, Applied, ProposalFailed,
// ReadDone, ReadFailed or LeadershipChanged.
type Input interface{ isInput() }

// Message is one frame received from a connection. The gateway decodes it and keeps
// slices of Bytes (payloads it proposes or reads), so the caller hands Bytes over and must
// not modify it afterwards.
type Message struct {
	RoutingID RoutingID
	Bytes     []byte
	// NewSessionID is the id the session gets if Bytes is a CreateSession the leader
	// proposes: 128 bits from a cryptographic random source, as a UUID string. The caller
	// generates one only when NeedsSessionID(Bytes) is true; it is ignored otherwise.
	NewSessionID string
}

// ConnectionClosed reports that the transport closed the connection (the peer left, or
// the caller carried out a Close output). The gateway forgets the connection; a session
// it owned lives on in the replicated state until it expires or is continued.
type ConnectionClosed struct {
	RoutingID RoutingID
}

// Applied is one log entry applied to the replicated state machine on this member: the
// command as decoded from the entry and the Result the machine returned. While the
// gateway leads, the caller feeds every applied entry (not only the gateway's own
// proposals), in log order, so that server requests and expiries reach the clients.
type Applied struct {
	Command session.Command
	Result  session.Result
}

// ProposalFailed reports that a Propose output was not committed, or that its outcome is
// unknown (not leader, leadership lost, timeout). Command is the command of that
// output. The gateway proposes again, at the next Tick, whatever in it still waits for an
// answer; a command that did commit after all is answered from the response cache.
type ProposalFailed struct {
	Command session.Command
}

// ReadDone answers a Read output: the machine's Outcome for the query (session.Machine.Query
// run at the Read's consistency level).
type ReadDone struct {
	ID      uint64
	Outcome session.Outcome
}

// ReadFailed reports that a Read output could not be served (for example the leadership
// confirmation failed). The gateway asks again at the next Tick while it leads.
type ReadFailed struct {
	ID uint64
}

// LeadershipChanged reports the member's role. IsLeader must only become true once the
// member is the ready leader of Term: it has applied every entry committed before its term
// (raftnode's RoleLeader), so that SessionView is up to date. Leader is the current leader's
// id (empty when unknown); Members maps every member to the endpoint clients reach it at,
// sent to clients that negotiated extensions.
type LeadershipChanged struct {
	IsLeader bool
	Term     uint64
	Leader   protocol.MemberID
	Members  []protocol.Member
}

func (Message) isInput()           {}
func (ConnectionClosed) isInput()  {}
func (Applied) isInput()           {}
func (ProposalFailed) isInput()    {}
func (ReadDone) isInput()          {}
func (ReadFailed) isInput()        {}
func (LeadershipChanged) isInput() {}

// Output is what Ready returns: Send, Close, Propose or Read. Carry them out in order:
// a Close follows the Sends to the same connection that precede it, and the transport
// should flush those before disconnecting.
type Output interface{ isOutput() }

// Send asks the transport to send Message to the connection; encode it with
// protocol.AppendServerMessage. Byte slices in Message may be shared with the
// replicated state: do not modify them.
type Send struct {
	RoutingID RoutingID
	Message   protocol.ServerMessage
}

// Close asks the transport to disconnect the connection. The gateway ignores anything
// still arriving from it until the ConnectionClosed input, which the caller must feed
// once the transport has closed it.
type Close struct {
	RoutingID RoutingID
	Reason    CloseReason
}

// Propose asks the caller to replicate Command through the log (session.EncodeCommand).
// Every Propose must end in an Applied input (on success, like every applied entry) or a
// ProposalFailed input.
type Propose struct {
	Command session.Command
}

// Read asks the caller to evaluate a query (session.Machine.Query(Session, Payload)) at
// the Consistency level and to answer with ReadDone or ReadFailed carrying ID.
type Read struct {
	ID          uint64
	Session     string
	Payload     []byte
	Consistency protocol.Consistency
}

func (Send) isOutput()    {}
func (Close) isOutput()   {}
func (Propose) isOutput() {}
func (Read) isOutput()    {}

// CloseReason says why the gateway closes a connection.
type CloseReason uint8

// Close reasons.
const (
	// CloseMalformed: the connection sent bytes that are not a valid client message.
	CloseMalformed CloseReason = iota + 1
	// CloseNotLeader: this member does not lead; the client was told where to go.
	CloseNotLeader
	// CloseNoSession: a session message on a connection without a session.
	CloseNoSession
	// CloseSessionNotFound: ContinueSession named a session that does not exist.
	CloseSessionNotFound
	// CloseReplaced: a newer connection continued this connection's session.
	CloseReplaced
	// ClosePeerClosed: the peer sent ConnectionClosed.
	ClosePeerClosed
	// CloseOverloaded: the session has Config.MaxInFlight requests and reads in flight
	// and the client cannot be told otherwise (see Config.MaxInFlight).
	CloseOverloaded
)

var closeReasonNames = [...]string{CloseMalformed: "malformed", CloseNotLeader: "not-leader", CloseNoSession: "no-session",
	CloseSessionNotFound: "session-not-found", CloseReplaced: "replaced", ClosePeerClosed: "peer-closed", CloseOverloaded: "overloaded"}

// String names the reason.
func (r CloseReason) String() string {
	if int(r) < len(closeReasonNames) && closeReasonNames[r] != "" {
		return closeReasonNames[r]
	}
	return "unknown"
}

// NeedsSessionID reports whether b is (or claims by its header to be) a CreateSession,
// for which the caller must pass Message.NewSessionID. It reads only the header, so the
// caller draws random bytes only for messages that can use them.
func NeedsSessionID(b []byte) bool {
	return len(b) >= protocol.HeaderSize && string(b[:len(protocol.Signature)]) == protocol.Signature &&
		b[protocol.HeaderSize-1] == byte(protocol.CodeCreateSession)
}
