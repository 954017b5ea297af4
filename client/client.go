package client

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// Client is a session on a zraft cluster (or a zio-raft cluster). It is safe for
// concurrent use. One goroutine owns the session engine; the methods talk to it through
// channels, so any number of calls may be in flight from any number of goroutines.
type Client struct {
	opts    *options
	metrics *metrics
	ops     chan op
	// done is closed when the owner goroutine has ended; every call after that fails
	// with ErrClosed.
	done   chan struct{}
	srv    chan ServerRequest
	events chan Event
	// closeOnce holds one token: the first Close takes it and asks the owner to close.
	closeOnce chan struct{}
}

// Dial creates a session on the cluster whose members are listed in endpoints (see
// ParseEndpoints, for example DefaultEndpoints) and returns once the session exists. ctx
// bounds only that wait: if it ends first, Dial gives up and returns its error (wrapped).
// If the cluster refuses the session, the error wraps ErrInvalidCapabilities.
func Dial(ctx context.Context, endpoints string, opts ...Option) (*Client, error) {
	ms, err := ParseEndpoints(endpoints)
	if err != nil {
		return nil, err
	}
	return DialMembers(ctx, ms, opts...)
}

// DialMembers is Dial with the members given as a slice, tried in this order.
func DialMembers(ctx context.Context, members []Member, opts ...Option) (*Client, error) {
	if err := validateMembers(members); err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	metrics, err := newMetrics(o)
	if err != nil {
		return nil, err
	}
	cfg := engineConfig(members, o)
	eng, err := clientsession.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c := &Client{
		opts:      o,
		metrics:   metrics,
		ops:       make(chan op), // unbuffered: a handed-over op is one the owner took
		done:      make(chan struct{}),
		srv:       make(chan ServerRequest, o.srvBuffer),
		events:    make(chan Event, o.eventBuffer),
		closeOnce: make(chan struct{}, 1),
	}
	c.closeOnce <- struct{}{}
	ready := make(chan error, 1)
	l := newLoop(c, eng, ready)
	go l.run()
	select {
	case err := <-ready:
		if err != nil {
			_ = c.Close(context.Background())
			return nil, fmt.Errorf("client: dial: %w", err)
		}
		return c, nil
	case <-ctx.Done():
		reason := l.lastFailure()
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(cctx)
		if reason == "" {
			reason = "no answer from " + members[0].ID + " at " + members[0].Endpoint
		}
		return nil, fmt.Errorf("client: dial: no session (last attempt: %s): %w", reason, ctx.Err())
	}
}

func engineConfig(members []Member, o *options) clientsession.Config {
	ms := make([]protocol.Member, len(members))
	for i, m := range members {
		ms[i] = protocol.Member{ID: protocol.MemberID(m.ID), Endpoint: m.Endpoint}
	}
	resend := o.resendInterval.Milliseconds()
	if o.resendInterval < 0 {
		resend = -1
	} else if resend == 0 {
		resend = 1
	}
	return clientsession.Config{
		Members:           ms,
		Capabilities:      o.caps,
		Extensions:        o.extensions,
		KeepAliveInterval: o.keepAliveInterval.Milliseconds(),
		KeepAliveTimeout:  o.keepAliveTimeout.Milliseconds(),
		ConnectTimeout:    o.connectTimeout.Milliseconds(),
		ResendInterval:    resend,
		BackoffBase:       max(1, o.backoffBase.Milliseconds()),
		BackoffMax:        max(1, o.backoffMax.Milliseconds()),
		MaxPending:        o.maxPending,
		MaxMessageSize:    o.maxMessage,
		Seed:              randomSeed(),
	}
}

// Call is a command or query in flight (see SubmitAsync). Its result can be awaited
// later, from any goroutine, any number of times.
type Call struct {
	done   chan struct{}
	result []byte
	err    error
	// stop unregisters the context watch; handle is the engine's token. Both belong to
	// the owner goroutine once the call was handed over.
	stop   func() bool
	handle clientsession.Handle
	span   trace.Span // nil without a tracer
	// reqID (a command's) or corr (a query's) is set by the owner once the engine has
	// the call, for the span's attributes.
	reqID protocol.RequestID
	corr  protocol.CorrelationID
	// metrics (nil without a meter provider), what the call is and when it started.
	metrics *metrics
	query   bool
	started time.Time
}

func newCall() *Call { return &Call{done: make(chan struct{})} }

// Done is closed when the call is complete.
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait waits for the call to complete, or for ctx to end (then it returns ctx's error and
// the call goes on: only the context given to SubmitAsync or QueryAsync cancels it).
// The result is the application's answer, an application error included.
func (c *Call) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-c.done:
		return c.result, c.err
	default:
	}
	select {
	case <-c.done:
		return c.result, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// complete is called once, by the owner goroutine.
func (c *Call) complete(result []byte, err error) {
	if c.stop != nil {
		c.stop()
	}
	c.result, c.err = result, err
	endSpan(c.span, err)
	c.metrics.done(c.query, time.Since(c.started), err)
	close(c.done)
}

func failedCall(err error) *Call {
	c := newCall()
	c.complete(nil, err)
	return c
}

// Submit sends a command, applied by the cluster exactly once, and waits for its result.
// If ctx ends first, Submit returns ctx's error; the command may still be applied (once):
// the client keeps it pending until the cluster answers, and drops the answer.
func (c *Client) Submit(ctx context.Context, payload []byte) ([]byte, error) {
	return c.SubmitAsync(ctx, payload).Wait(ctx)
}

// SubmitAsync sends a command and returns at once with a Call to await its result.
// Many calls may be in flight from one goroutine; their commands are applied in the
// order of the SubmitAsync calls. ctx governs the call: when it ends, the Call
// completes with ctx's error (the command may still be applied once, as for Submit).
// payload is copied.
func (c *Client) SubmitAsync(ctx context.Context, payload []byte) *Call {
	return c.start(ctx, &opCall{payload: append([]byte{}, payload...)})
}

// Consistency is a query's read-consistency level.
type Consistency uint8

// Read-consistency levels.
const (
	// Linearizable (the default): the answer reflects every command completed before the
	// query was sent; the leader confirms it still leads before answering.
	Linearizable Consistency = Consistency(protocol.ConsistencyLinearizable)
	// Lease: the leader answers from its local state while its lease holds; cheaper,
	// linearizable unless clocks misbehave.
	Lease Consistency = Consistency(protocol.ConsistencyLease)
	// Stale: any member's local state, possibly behind.
	Stale Consistency = Consistency(protocol.ConsistencyStale)
)

// String returns the level's name.
func (c Consistency) String() string { return protocol.Consistency(c).String() }

// QueryOption configures one query.
type QueryOption func(*opCall)

// WithConsistency asks for a read-consistency level. It travels only to a server that
// confirmed the extensions; any other (zio-raft's) answers linearizably, which is
// stronger than asked.
func WithConsistency(level Consistency) QueryOption {
	return func(o *opCall) { o.consistency = protocol.Consistency(level) }
}

// Query sends a read, served without a log entry, and waits for its result.
func (c *Client) Query(ctx context.Context, payload []byte, opts ...QueryOption) ([]byte, error) {
	return c.QueryAsync(ctx, payload, opts...).Wait(ctx)
}

// QueryAsync sends a read and returns at once with a Call to await its result; ctx
// governs the call as for SubmitAsync. payload is copied.
func (c *Client) QueryAsync(ctx context.Context, payload []byte, opts ...QueryOption) *Call {
	o := &opCall{query: true, payload: append([]byte{}, payload...)}
	for _, opt := range opts {
		opt(o)
	}
	if o.consistency != 0 && !o.consistency.Known() {
		return failedCall(fmt.Errorf("%w: consistency level %d", ErrInvalidRequest, o.consistency))
	}
	return c.start(ctx, o)
}

func (c *Client) start(ctx context.Context, o *opCall) *Call {
	if err := ctx.Err(); err != nil {
		return failedCall(err)
	}
	if limit := c.opts.maxMessage - messageOverhead; len(o.payload) > limit {
		return failedCall(fmt.Errorf("%w: %d bytes, more than the %d this client sends (WithMaxMessageSize)",
			ErrPayloadTooLarge, len(o.payload), limit))
	}
	ctx, span := c.startSpan(ctx, o)
	call := newCall()
	call.span, call.metrics, call.query, call.started = span, c.metrics, o.query, time.Now()
	o.call, o.ctx = call, ctx
	// Registered before the hand-over, so the owner can unregister it on completion.
	call.stop = context.AfterFunc(ctx, func() {
		c.send(opCancel{call: call, err: ctx.Err()})
	})
	select {
	case c.ops <- o:
		return call
	case <-c.done:
		call.complete(nil, ErrClosed)
	case <-ctx.Done():
		call.complete(nil, ctx.Err())
	}
	return call
}

// send hands an op to the owner goroutine unless it has ended.
func (c *Client) send(o op) bool {
	select {
	case c.ops <- o:
		return true
	case <-c.done:
		return false
	}
}

// ServerRequests returns the channel of the requests the cluster addresses to this
// session, in order, each once. A request is acknowledged to the cluster when the client
// puts it into this channel (WithServerRequestBuffer sets its capacity). When the
// application does not keep up and the channel is full, the client stops taking new
// requests: it neither acknowledges nor drops them, the cluster keeps them and
// redelivers them later, and Status.ServerRequestsDeferred counts the deferrals. The
// channel is closed when the client has closed; requests still in it may be read.
func (c *Client) ServerRequests() <-chan ServerRequest { return c.srv }

// Events returns the channel of connection and session changes (connected to a member,
// reconnecting, session expired, closed). It never blocks the client: events that do
// not fit are counted and logged. It is closed when the client has closed.
func (c *Client) Events() <-chan Event { return c.events }

// Status returns a snapshot of the session and the connection.
func (c *Client) Status(ctx context.Context) (Status, error) {
	reply := make(chan Status, 1)
	select {
	case c.ops <- opStatus{reply: reply}:
	case <-c.done:
		return Status{State: "closed"}, ErrClosed
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	select {
	case s := <-reply:
		return s, nil
	case <-c.done:
		return Status{State: "closed"}, ErrClosed
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

// Close ends the session: it sends CloseSession when connected (and waits up to the
// close linger, bounded by ctx, until it is written to the connection, so that closing
// the connection does not lose it), fails every pending call
// with ErrClosed, closes the connection and the ServerRequests and Events channels, and
// waits for the client's goroutines to end. Calls made afterwards fail with ErrClosed.
// Close may be called more than once; later calls wait for the first to finish.
func (c *Client) Close(ctx context.Context) error {
	select {
	case <-c.closeOnce:
		select {
		case c.ops <- opClose{ctx: ctx}:
		case <-c.done:
		}
	default:
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		// The owner still finishes on its own: the close op bounds its wait by ctx.
		<-c.done
		return fmt.Errorf("client: close: %w", ctx.Err())
	}
}
