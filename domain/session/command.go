package session

// Command is one input of the state machine, applied at a log index. Every command except
// Batch carries At, the proposing leader's clock in milliseconds since the Unix epoch; log
// time ("now") is the highest At applied so far, so a leader whose clock is behind never
// moves time backwards.
//
// The concrete types are CreateSession, ClientRequest, Touch, Acks, CloseSession,
// LeaderStarted, Redelivery, Internal and Batch.
type Command interface {
	kind() commandKind
}

type commandKind uint8

// The command kinds, as encoded on the log (see docs/session.md). Values are part of the
// replicated format: never renumber.
const (
	kindCreateSession commandKind = 1
	kindClientRequest commandKind = 2
	kindTouch         commandKind = 3
	kindAcks          commandKind = 4
	kindCloseSession  commandKind = 5
	kindLeaderStarted commandKind = 6
	kindRedelivery    commandKind = 7
	kindInternal      commandKind = 8
	kindBatch         commandKind = 9
)

// Capability is one key=value pair a client declares when it creates its session.
type Capability struct {
	Key   string
	Value string
}

// CreateSession creates session ID. The proposer generates the id (128 random bits in
// practice); apply never invents one.
type CreateSession struct {
	At           int64
	ID           string
	Capabilities []Capability
}

// ClientRequest is a client's command: request RequestID of Session, with LowestPending
// (K) the smallest request id the client still waits for.
type ClientRequest struct {
	At            int64
	Session       string
	RequestID     uint64
	LowestPending uint64
	Payload       []byte
}

// Touch records activity of many sessions in one log entry (replicated liveness).
type Touch struct {
	At       int64
	Sessions []string
}

// Ack acknowledges every server request of Session with sequence number ≤ UpTo.
type Ack struct {
	Session string
	UpTo    uint64
}

// Acks carries cumulative acknowledgements of many sessions in one log entry.
type Acks struct {
	At   int64
	Acks []Ack
}

// CloseSession deletes a session at its client's request.
type CloseSession struct {
	At      int64
	Session string
}

// LeaderStarted is the first command a new leader proposes; it starts the leader-change
// grace period during which no session expires.
type LeaderStarted struct {
	At   int64
	Term uint64
}

// Redelivery asks for the unacknowledged server requests that are due again at At; the
// machine returns them and records that they were re-sent (doubling their backoff).
type Redelivery struct {
	At int64
}

// Internal is an application's own command (for example from its timers), passed to
// Application.ApplyInternal without session or deduplication.
type Internal struct {
	At      int64
	Payload []byte
}

// Batch carries several commands in one log entry; they are applied in order and each
// gets its own Outcome. A Batch must not contain a Batch.
type Batch struct {
	Commands []Command
}

func (CreateSession) kind() commandKind { return kindCreateSession }
func (ClientRequest) kind() commandKind { return kindClientRequest }
func (Touch) kind() commandKind         { return kindTouch }
func (Acks) kind() commandKind          { return kindAcks }
func (CloseSession) kind() commandKind  { return kindCloseSession }
func (LeaderStarted) kind() commandKind { return kindLeaderStarted }
func (Redelivery) kind() commandKind    { return kindRedelivery }
func (Internal) kind() commandKind      { return kindInternal }
func (Batch) kind() commandKind         { return kindBatch }

// stamp returns the leader time stamp of a non-batch command.
func stamp(c Command) int64 {
	switch c := c.(type) {
	case CreateSession:
		return c.At
	case ClientRequest:
		return c.At
	case Touch:
		return c.At
	case Acks:
		return c.At
	case CloseSession:
		return c.At
	case LeaderStarted:
		return c.At
	case Redelivery:
		return c.At
	case Internal:
		return c.At
	}
	return 0
}
