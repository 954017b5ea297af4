package client

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/protocol"
)

// Defaults of the options.
const (
	DefaultConnectTimeout       = 3 * time.Second
	DefaultKeepAliveInterval    = 1 * time.Second
	DefaultKeepAliveTimeout     = 10 * time.Second
	DefaultResendInterval       = 5 * time.Second
	DefaultBackoffBase          = 100 * time.Millisecond
	DefaultBackoffMax           = 5 * time.Second
	DefaultMaxPending           = 4096
	DefaultServerRequestBuffer  = 256
	DefaultEventBuffer          = 64
	DefaultCloseLinger          = 1 * time.Second
	defaultCapabilityKey        = "client"
	defaultCapabilityValue      = "zraft-go"
	defaultTransportSendQueue   = 4096
	defaultTransportHandshakeTO = 5 * time.Second
)

// Option configures a Client (see Dial).
type Option func(*options)

type options struct {
	caps              protocol.Capabilities
	extensions        bool
	connectTimeout    time.Duration
	keepAliveInterval time.Duration
	keepAliveTimeout  time.Duration
	resendInterval    time.Duration
	backoffBase       time.Duration
	backoffMax        time.Duration
	maxPending        int
	srvBuffer         int
	eventBuffer       int
	linger            time.Duration
	logger            *slog.Logger
	trace             func(context.Context) (traceparent, tracestate string)
	tracer            trace.Tracer
	meterProvider     metric.MeterProvider
	maxMessage        int
}

func newOptions(opts []Option) (*options, error) {
	o := &options{
		extensions:        true,
		connectTimeout:    DefaultConnectTimeout,
		keepAliveInterval: DefaultKeepAliveInterval,
		keepAliveTimeout:  DefaultKeepAliveTimeout,
		resendInterval:    DefaultResendInterval,
		backoffBase:       DefaultBackoffBase,
		backoffMax:        DefaultBackoffMax,
		maxPending:        DefaultMaxPending,
		srvBuffer:         DefaultServerRequestBuffer,
		eventBuffer:       DefaultEventBuffer,
		linger:            DefaultCloseLinger,
		maxMessage:        protocol.DefaultMaxMessageSize,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if len(o.caps) == 0 {
		// CreateSession must carry at least one capability, also without extensions.
		o.caps = protocol.Capabilities{{Key: defaultCapabilityKey, Value: defaultCapabilityValue}}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
	}
	switch {
	case o.connectTimeout < time.Millisecond:
		return nil, bad("connect timeout %v", o.connectTimeout)
	case o.keepAliveInterval < time.Millisecond || o.keepAliveTimeout <= o.keepAliveInterval:
		return nil, bad("keep-alive %v/%v (the timeout must exceed the interval)", o.keepAliveInterval, o.keepAliveTimeout)
	case o.backoffBase < 0 || o.backoffMax < o.backoffBase:
		return nil, bad("backoff %v..%v", o.backoffBase, o.backoffMax)
	case o.maxPending < 1:
		return nil, bad("max pending %d", o.maxPending)
	case o.srvBuffer < 1 || o.eventBuffer < 1:
		return nil, bad("buffers %d/%d", o.srvBuffer, o.eventBuffer)
	case o.linger < 0:
		return nil, bad("close linger %v", o.linger)
	case o.maxMessage < messageOverhead+1:
		return nil, bad("max message size %d", o.maxMessage)
	}
	return o, nil
}

// WithCapability adds a capability (key=value) to the session's CreateSession. The
// cluster's application may choose sessions by capability (for example to address work
// to them) or refuse the session (ErrInvalidCapabilities). Without any, the client sends
// client=zraft-go, since the protocol requires at least one. The key "zraft.ext" is
// reserved (see WithExtensions).
func WithCapability(key, value string) Option {
	return func(o *options) { o.caps = append(o.caps, protocol.Capability{Key: key, Value: value}) }
}

// WithExtensions turns zraft's protocol extensions on or off (default on). When on, the
// client declares them in CreateSession and uses them (trace context, read consistency,
// learning the members) only on a connection whose server confirmed them; against a
// zio-raft server, which never confirms, it sends plain version 1 only. When off, the
// client never even declares them.
func WithExtensions(on bool) Option { return func(o *options) { o.extensions = on } }

// WithConnectTimeout bounds each step of a connection attempt: establishing the
// connection, then the session answer (default 3 s). After it the next member is tried.
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithKeepAlive sets how often the client sends KeepAlive while connected (default 1 s)
// and after how long without anything received it gives the connection up and continues
// the session on another member (default 10 s). The cluster expires a session that is
// silent for its session timeout.
func WithKeepAlive(interval, timeout time.Duration) Option {
	return func(o *options) { o.keepAliveInterval, o.keepAliveTimeout = interval, timeout }
}

// WithResendInterval sets after how long an unanswered call is sent again on the same
// connection (default 5 s; negative disables it). Every pending call is re-sent after
// every reconnection regardless. Re-sending is safe: the cluster answers a repeated
// command from its response cache.
func WithResendInterval(d time.Duration) Option { return func(o *options) { o.resendInterval = d } }

// WithBackoff bounds the pause after a round in which every member failed: base,
// doubled per round up to max, with jitter (defaults 100 ms and 5 s).
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoffBase, o.backoffMax = base, max }
}

// WithMaxPending bounds the calls waiting for an answer (default 4096); past it a call
// fails at once with ErrTooManyPending.
func WithMaxPending(n int) Option { return func(o *options) { o.maxPending = n } }

// WithServerRequestBuffer sets the capacity of the ServerRequests channel (default 256).
// When it is full the client stops acknowledging new server requests, so the cluster
// keeps them and redelivers them later (see ServerRequests).
func WithServerRequestBuffer(n int) Option { return func(o *options) { o.srvBuffer = n } }

// WithEventBuffer sets the capacity of the Events channel (default 64). Events that do
// not fit are counted (Stats.EventsDropped) and logged, never blocking the client.
func WithEventBuffer(n int) Option { return func(o *options) { o.eventBuffer = n } }

// WithCloseLinger bounds how long Close waits for the CloseSession message to be
// written to the connection before it closes it (default 1 s; Close's context may cut
// it shorter). Without that wait the session would merely expire later.
func WithCloseLinger(d time.Duration) Option { return func(o *options) { o.linger = d } }

// WithMaxMessageSize sets the largest message the client sends and receives (default
// 4 MiB, protocol.DefaultMaxMessageSize, what a zraft member's decoder accepts by
// default); the transport and the session engine use this one limit. A command or
// query whose payload does not fit, with room for the message's other fields, fails at
// once with ErrPayloadTooLarge: sent anyway, it would make the member drop the
// connection, and the client would send it again after every reconnection. An answer
// larger than the limit fails its call with ErrResultTooLarge and the connection stays
// (a command was still applied once). A server request larger than the limit cannot be
// delivered: it stays unacknowledged, the cluster redelivers it, and the requests after
// it wait behind it (Status.Ignored counts each arrival), so keep the limit at least as
// large as the cluster's.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.maxMessage = n } }

// messageOverhead is room for a message's fields and extension block around its
// payload: header, ids, lengths, timestamps, and a W3C traceparent and tracestate
// (at most 55 and 512 characters).
const messageOverhead = 1024

// WithLogger sets the logger (default: discard). Connection changes are logged at Info,
// ignored messages and dropped events at Debug and Warn.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTraceContext sets a function that returns the W3C trace context (traceparent,
// tracestate) of a call's context; the client sends it with the command or query when
// the server confirmed the extensions. With OpenTelemetry, adapters/telemetry's Inject
// fills exactly these two fields.
func WithTraceContext(f func(ctx context.Context) (traceparent, tracestate string)) Option {
	return func(o *options) { o.trace = f }
}
