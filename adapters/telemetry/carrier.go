package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/protocol"
)

// The extension block has entries for exactly the two W3C trace-context fields, so the
// propagator is fixed to TraceContext whatever the process's global propagator is:
// a baggage or B3 propagator would have nowhere to put its fields on the wire.
var traceContext propagation.TraceContext

const (
	traceparentKey = "traceparent"
	tracestateKey  = "tracestate"
)

// extCarrier adapts an extension block to propagation.TextMapCarrier.
type extCarrier struct{ e *protocol.Extensions }

var _ propagation.TextMapCarrier = extCarrier{}

func (c extCarrier) Get(key string) string {
	switch key {
	case traceparentKey:
		return c.e.TraceParent
	case tracestateKey:
		return c.e.TraceState
	}
	return ""
}

// Set stores the two trace-context fields; TraceContext sets no other key.
func (c extCarrier) Set(key, value string) {
	switch key {
	case traceparentKey:
		c.e.TraceParent = value
	case tracestateKey:
		c.e.TraceState = value
	}
}

func (c extCarrier) Keys() []string {
	keys := make([]string, 0, 2)
	if c.e.TraceParent != "" {
		keys = append(keys, traceparentKey)
	}
	if c.e.TraceState != "" {
		keys = append(keys, tracestateKey)
	}
	return keys
}

// Inject writes the trace context of ctx's span into e, replacing the trace context e
// held before (so a reused block never carries a stale tracestate). Without a valid span
// context in ctx, both fields are cleared. A nil e is left alone.
//
// Put trace context only on messages of a session that negotiated extensions
// (protocol.ConfirmedExtensions); WithTraceContext does the allocation for the common case.
func Inject(ctx context.Context, e *protocol.Extensions) {
	if e == nil {
		return
	}
	e.TraceParent, e.TraceState = "", ""
	traceContext.Inject(ctx, extCarrier{e})
}

// WithTraceContext returns e with ctx's trace context injected, allocating a block when e
// is nil and ctx carries a valid span context. It returns e unchanged (possibly nil) when
// there is nothing to inject, so that untraced messages keep no empty block.
func WithTraceContext(ctx context.Context, e *protocol.Extensions) *protocol.Extensions {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if e != nil {
			e.TraceParent, e.TraceState = "", ""
		}
		return e
	}
	if e == nil {
		e = &protocol.Extensions{}
	}
	Inject(ctx, e)
	return e
}

// Extract returns ctx with the remote span context carried by e, for the receiver's span
// to be its child. An absent block, an absent or invalid traceparent leave ctx as it is;
// an invalid tracestate is dropped while a valid traceparent is kept, as W3C requires.
// Extract never fails: trace context is advisory, the message is handled either way.
func Extract(ctx context.Context, e *protocol.Extensions) context.Context {
	if e == nil || e.TraceParent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, extCarrier{e})
}
