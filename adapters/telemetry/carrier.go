package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/protocol"
)

// The extension block has entries for exactly the two W3C trace-context fields, so the
// format is fixed to W3C TraceContext whatever the process's global propagator is: a
// baggage or B3 propagator would have nowhere to put its fields on the wire.
//
// traceparent is parsed and formatted here directly rather than through
// propagation.TraceContext and a TextMapCarrier: that path costs a carrier, its
// interface calls and (on the sending side) a map per message, on every command. The
// rules are those of propagation.TraceContext (a differential test and a fuzz test hold
// the two together); tracestate is parsed by trace.ParseTraceState, as there.

// traceParentLen is the length of a version-00 traceparent:
// "00-" + 32 hex trace id + "-" + 16 hex span id + "-" + 2 hex flags.
const traceParentLen = 55

// maxTraceParentVersion is the highest version accepted; "ff" is invalid.
const maxTraceParentVersion = 254

// keptFlags are the trace flags the specification defines, the only ones carried on.
const keptFlags = trace.FlagsSampled | trace.FlagsRandom

const hexDigits = "0123456789abcdef"

// AppendTraceParent appends sc's W3C traceparent (version 00, lower-case hex, the sampled
// and random flags only) to dst. sc should be valid.
func AppendTraceParent(dst []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, '0', '0', '-')
	for _, b := range tid {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	dst = append(dst, '-')
	for _, b := range sid {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	f := byte(sc.TraceFlags() & keptFlags)
	return append(dst, '-', hexDigits[f>>4], hexDigits[f&0xf])
}

// TraceParent returns sc's W3C traceparent, or "" when sc is not valid.
func TraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	var buf [traceParentLen]byte
	return string(AppendTraceParent(buf[:0], sc))
}

// unhex is the value of a lower-case hex digit, 0xff for any other byte (upper-case
// hex included: W3C forbids it).
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range 16 {
		t[hexDigits[i]] = byte(i)
	}
	return t
}()

// hexPart decodes the next '-'-delimited part of *s into dst (2*len(dst) hex digits) and
// advances *s past it and its delimiter. It reports whether the part had exactly that
// length and only lower-case hex digits.
func hexPart(dst []byte, s *string) bool {
	part, rest := *s, ""
	for i := 0; i < len(part); i++ {
		if part[i] == '-' {
			part, rest = part[:i], part[i+1:]
			break
		}
	}
	*s = rest
	if len(part) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := unhex[part[2*i]], unhex[part[2*i+1]]
		dst[i] = hi<<4 | lo
		bad |= hi | lo
	}
	return bad&0xf0 == 0
}

// ParseTraceParent parses a W3C traceparent into a remote span context (with no
// tracestate). It reports false, and returns the zero SpanContext, for anything
// propagation.TraceContext would not accept: a wrong length or delimiter, upper-case or
// non-hex digits, version ff, version 00 with extra fields or reserved flags, an all-zero
// trace or span id. A later version may carry fields after the flags, which are ignored.
func ParseTraceParent(s string) (trace.SpanContext, bool) {
	if len(s) < traceParentLen {
		return trace.SpanContext{}, false
	}
	var (
		ver, flags [1]byte
		cfg        trace.SpanContextConfig
	)
	if !hexPart(ver[:], &s) || ver[0] > maxTraceParentVersion ||
		!hexPart(cfg.TraceID[:], &s) || !hexPart(cfg.SpanID[:], &s) || !hexPart(flags[:], &s) {
		return trace.SpanContext{}, false
	}
	if ver[0] == 0 && (s != "" || flags[0] > byte(keptFlags)) {
		return trace.SpanContext{}, false // version 00 has no more fields and no other flags
	}
	cfg.TraceFlags = trace.TraceFlags(flags[0]) & keptFlags
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	if !sc.IsValid() {
		return trace.SpanContext{}, false
	}
	return sc, true
}

// RemoteSpanContext returns the remote span context e carries, with its tracestate, or
// the zero (invalid) SpanContext when e is nil or has no valid traceparent. An invalid
// tracestate is dropped while a valid traceparent is kept, as W3C requires.
func RemoteSpanContext(e *protocol.Extensions) trace.SpanContext {
	if e == nil || e.TraceParent == "" {
		return trace.SpanContext{}
	}
	sc, ok := ParseTraceParent(e.TraceParent)
	if !ok {
		return trace.SpanContext{}
	}
	if e.TraceState != "" {
		if ts, err := trace.ParseTraceState(e.TraceState); err == nil {
			sc = sc.WithTraceState(ts)
		}
	}
	return sc
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
	sc := trace.SpanContextFromContext(ctx)
	e.TraceParent, e.TraceState = TraceParent(sc), ""
	if e.TraceParent != "" {
		e.TraceState = sc.TraceState().String()
	}
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
	sc := RemoteSpanContext(e)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}
