package otlphttp

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of opentelemetry-proto (collector/trace/v1, trace/v1, common/v1,
// resource/v1), the subset this encoder writes.
const (
	fRequestResourceSpans protowire.Number = 1

	fResourceSpansResource   protowire.Number = 1
	fResourceSpansScopeSpans protowire.Number = 2
	fResourceSpansSchemaURL  protowire.Number = 3

	fResourceAttributes protowire.Number = 1

	fScopeSpansScope     protowire.Number = 1
	fScopeSpansSpans     protowire.Number = 2
	fScopeSpansSchemaURL protowire.Number = 3

	fScopeName       protowire.Number = 1
	fScopeVersion    protowire.Number = 2
	fScopeAttributes protowire.Number = 3

	fSpanTraceID           protowire.Number = 1
	fSpanSpanID            protowire.Number = 2
	fSpanTraceState        protowire.Number = 3
	fSpanParentSpanID      protowire.Number = 4
	fSpanName              protowire.Number = 5
	fSpanKind              protowire.Number = 6
	fSpanStartTime         protowire.Number = 7
	fSpanEndTime           protowire.Number = 8
	fSpanAttributes        protowire.Number = 9
	fSpanDroppedAttributes protowire.Number = 10
	fSpanEvents            protowire.Number = 11
	fSpanDroppedEvents     protowire.Number = 12
	fSpanLinks             protowire.Number = 13
	fSpanDroppedLinks      protowire.Number = 14
	fSpanStatus            protowire.Number = 15
	fSpanFlags             protowire.Number = 16

	fEventTime              protowire.Number = 1
	fEventName              protowire.Number = 2
	fEventAttributes        protowire.Number = 3
	fEventDroppedAttributes protowire.Number = 4

	fLinkTraceID           protowire.Number = 1
	fLinkSpanID            protowire.Number = 2
	fLinkTraceState        protowire.Number = 3
	fLinkAttributes        protowire.Number = 4
	fLinkDroppedAttributes protowire.Number = 5
	fLinkFlags             protowire.Number = 6

	fStatusMessage protowire.Number = 2
	fStatusCode    protowire.Number = 3

	fKeyValueKey   protowire.Number = 1
	fKeyValueValue protowire.Number = 2

	fAnyString protowire.Number = 1
	fAnyBool   protowire.Number = 2
	fAnyInt    protowire.Number = 3
	fAnyDouble protowire.Number = 4
	fAnyArray  protowire.Number = 5
	fAnyKvlist protowire.Number = 6
	fAnyBytes  protowire.Number = 7

	fArrayValues  protowire.Number = 1
	fKvlistValues protowire.Number = 1
)

// Span flags of trace.proto (SpanFlags): the low 8 bits are the W3C trace flags.
const (
	flagContextHasIsRemote = 0x100
	flagContextIsRemote    = 0x200
)

// Enum values of trace.proto.
const (
	kindUnspecified = 0
	kindInternal    = 1
	kindServer      = 2
	kindClient      = 3
	kindProducer    = 4
	kindConsumer    = 5

	statusUnset = 0
	statusOK    = 1
	statusError = 2
)

// Length prefixes reserved before a nested message's content, guessed from its usual
// size: closeLen moves the content when the guess was wrong, so a guess only costs
// speed, never correctness.
const (
	reserveBatch = 3 // ResourceSpans, ScopeSpans: up to 2 MiB without a move
	reserveSpan  = 2 // Span, Link: up to 16 KiB
	reserveSmall = 1 // Event, KeyValue, AnyValue, Status, Scope, Resource: up to 127 B
)

// zeros fills reserved length bytes (a varint takes at most 10).
var zeros [10]byte

// appendTag appends the tag of field num with wire type typ: one byte, computed at
// compile time once inlined, for the field numbers below 16 this encoder writes.
func appendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	if num < 16 {
		return append(b, byte(num)<<3|byte(typ))
	}
	return protowire.AppendTag(b, num, typ)
}

// appendVarint appends v as a varint, with a fast path for one byte.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// openLen appends the tag of length-delimited field num and reserve bytes for its
// length, and returns the buffer and the offset where the field's content starts.
func openLen(b []byte, num protowire.Number, reserve int) ([]byte, int) {
	b = appendTag(b, num, protowire.BytesType)
	b = append(b, zeros[:reserve]...)
	return b, len(b)
}

// closeLen writes the length of the content that started at start (openLen's offset),
// as a minimal varint, moving the content if it does not take reserve bytes.
func closeLen(b []byte, start, reserve int) []byte {
	n := len(b) - start
	size := sizeVarint(uint64(n))
	hdr := start - reserve
	switch {
	case size < reserve:
		copy(b[hdr+size:], b[start:])
		b = b[:len(b)-(reserve-size)]
	case size > reserve:
		extra := size - reserve
		b = append(b, zeros[:extra]...)
		copy(b[start+extra:], b[start:len(b)-extra])
	}
	if size == 1 {
		b[hdr] = byte(n)
	} else {
		protowire.AppendVarint(b[:hdr], uint64(n))
	}
	return b
}

// validUTF8 returns s, or s with every invalid UTF-8 sequence replaced by U+FFFD:
// proto3 strings must be UTF-8 and a receiver rejects the whole request otherwise
// (the SDK's exporter fails the whole batch instead).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// appendString appends string field num, always (a oneof member).
func appendString(b []byte, num protowire.Number, s string) []byte {
	b = appendTag(b, num, protowire.BytesType)
	s = validUTF8(s)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendStringField appends string field num unless s is empty (proto3 default).
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(b, num, s)
}

// appendBytes appends bytes field num.
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendUint32Field appends varint field num unless v is 0.
func appendUint32Field(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	b = appendTag(b, num, protowire.VarintType)
	return appendVarint(b, uint64(v))
}

// appendFixed64Field appends fixed64 field num unless v is 0.
func appendFixed64Field(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = appendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// appendFixed32Field appends fixed32 field num unless v is 0.
func appendFixed32Field(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	b = appendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

// unixNanos is the SDK's conversion of a time to a proto timestamp.
func unixNanos(t time.Time) uint64 {
	return uint64(max(0, t.UnixNano())) // #nosec G115 -- not negative
}

// clampUint32 is the SDK's conversion of a dropped count.
func clampUint32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if int64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v) // #nosec G115 -- range checked
}

// spanFlags is what the SDK puts in Span.flags and Link.flags: the W3C trace flags,
// the "has is-remote" bit, and the "is remote" bit when remote is.
func spanFlags(tf trace.TraceFlags, remote trace.SpanContext) uint32 {
	f := uint32(tf) | flagContextHasIsRemote
	if remote.IsRemote() {
		f |= flagContextIsRemote
	}
	return f
}

// spanKind maps a trace.SpanKind as the SDK's tracetransform does.
func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return kindInternal
	case trace.SpanKindServer:
		return kindServer
	case trace.SpanKindClient:
		return kindClient
	case trace.SpanKindProducer:
		return kindProducer
	case trace.SpanKindConsumer:
		return kindConsumer
	default:
		return kindUnspecified
	}
}

// statusCode maps a codes.Code as the SDK's tracetransform does.
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return statusOK
	case codes.Error:
		return statusError
	default:
		return statusUnset
	}
}

// appendTraceState appends ts in its W3C form (what TraceState.String returns) as
// string field num, unless it is empty, without building the string.
func appendTraceState(b []byte, num protowire.Number, ts trace.TraceState) []byte {
	if ts.Len() == 0 {
		return b
	}
	n := -1 // no comma before the first member
	ts.Walk(func(k, v string) bool {
		n += len(k) + len(v) + 2
		return true
	})
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(n)) // #nosec G115 -- a length
	first := true
	ts.Walk(func(k, v string) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
		return true
	})
	return b
}

// appendArray appends an ArrayValue of the elements of vals, each as value turns it
// into an attribute value.
func appendArray[T any](b []byte, vals []T, value func(T) attribute.Value) []byte {
	a, as := openLen(b, fAnyArray, reserveSmall)
	for _, e := range vals {
		a = appendAnyValue(a, fArrayValues, value(e))
	}
	return closeLen(a, as, reserveSmall)
}

// appendAnyValue appends v as AnyValue message field num, as tracetransform.Value
// fills it.
func appendAnyValue(b []byte, num protowire.Number, v attribute.Value) []byte {
	b, start := openLen(b, num, reserveSmall)
	switch v.Type() {
	case attribute.EMPTY:
	case attribute.BOOL:
		b = appendTag(b, fAnyBool, protowire.VarintType)
		b = appendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = appendTag(b, fAnyInt, protowire.VarintType)
		b = appendVarint(b, uint64(v.AsInt64())) // #nosec G115 -- proto int64
	case attribute.FLOAT64:
		b = appendTag(b, fAnyDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		b = appendString(b, fAnyString, v.AsString())
	case attribute.BYTESLICE:
		b = appendBytes(b, fAnyBytes, v.AsByteSlice())
	case attribute.BOOLSLICE:
		b = appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		b = appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		b = appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		b = appendArray(b, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		b = appendArray(b, v.AsSlice(), func(e attribute.Value) attribute.Value { return e })
	case attribute.MAP:
		a, as := openLen(b, fAnyKvlist, reserveSmall)
		for _, kv := range v.AsMap() {
			a = appendKeyValue(a, fKvlistValues, kv)
		}
		b = closeLen(a, as, reserveSmall)
	default:
		b = appendString(b, fAnyString, "INVALID")
	}
	return closeLen(b, start, reserveSmall)
}

// appendKeyValue appends kv as KeyValue message field num. Scalar values, the usual
// case, are written with their lengths computed up front (no content move).
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	var size int // of the AnyValue content
	var str string
	var bits uint64
	switch kv.Value.Type() {
	case attribute.STRING:
		str = validUTF8(kv.Value.AsString())
		size = 1 + sizeVarint(uint64(len(str))) + len(str)
	case attribute.INT64:
		bits = uint64(kv.Value.AsInt64()) // #nosec G115 -- proto int64
		size = 1 + sizeVarint(bits)
	case attribute.BOOL:
		bits = protowire.EncodeBool(kv.Value.AsBool())
		size = 2
	case attribute.FLOAT64:
		bits = math.Float64bits(kv.Value.AsFloat64())
		size = 9
	default:
		b, start := openLen(b, num, reserveSmall)
		b = appendStringField(b, fKeyValueKey, string(kv.Key))
		b = appendAnyValue(b, fKeyValueValue, kv.Value)
		return closeLen(b, start, reserveSmall)
	}
	key := validUTF8(string(kv.Key))
	n := 1 + sizeVarint(uint64(size)) + size
	if key != "" {
		n += 1 + sizeVarint(uint64(len(key))) + len(key)
	}
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(n))
	if key != "" {
		b = appendTag(b, fKeyValueKey, protowire.BytesType)
		b = appendVarint(b, uint64(len(key)))
		b = append(b, key...)
	}
	b = appendTag(b, fKeyValueValue, protowire.BytesType)
	b = appendVarint(b, uint64(size))
	switch kv.Value.Type() {
	case attribute.STRING:
		b = appendTag(b, fAnyString, protowire.BytesType)
		b = appendVarint(b, uint64(len(str)))
		b = append(b, str...)
	case attribute.INT64:
		b = appendTag(b, fAnyInt, protowire.VarintType)
		b = appendVarint(b, bits)
	case attribute.BOOL:
		b = appendTag(b, fAnyBool, protowire.VarintType)
		b = append(b, byte(bits))
	default: // FLOAT64
		b = appendTag(b, fAnyDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, bits)
	}
	return b
}

// sizeVarint is protowire.SizeVarint with a fast path for one byte.
func sizeVarint(v uint64) int {
	if v < 0x80 {
		return 1
	}
	return protowire.SizeVarint(v)
}

// appendAttributes appends each of attrs as KeyValue field num.
func appendAttributes(b []byte, num protowire.Number, attrs []attribute.KeyValue) []byte {
	for _, kv := range attrs {
		b = appendKeyValue(b, num, kv)
	}
	return b
}

// appendSet appends each attribute of s, in its order, as KeyValue field num.
func appendSet(b []byte, num protowire.Number, s *attribute.Set) []byte {
	for it := s.Iter(); it.Next(); {
		b = appendKeyValue(b, num, it.Attribute())
	}
	return b
}

// appendEvent appends e as Span.Event field num.
func appendEvent(b []byte, num protowire.Number, e *sdktrace.Event) []byte {
	b, start := openLen(b, num, reserveSmall)
	b = appendFixed64Field(b, fEventTime, unixNanos(e.Time))
	b = appendStringField(b, fEventName, e.Name)
	b = appendAttributes(b, fEventAttributes, e.Attributes)
	b = appendUint32Field(b, fEventDroppedAttributes, clampUint32(e.DroppedAttributeCount))
	return closeLen(b, start, reserveSmall)
}

// appendLink appends l as Span.Link field num. Unlike the SDK's exporter (v1.47),
// it also writes the linked context's trace_state, which trace.proto defines.
func appendLink(b []byte, num protowire.Number, l *sdktrace.Link) []byte {
	b, start := openLen(b, num, reserveSpan)
	tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
	b = appendBytes(b, fLinkTraceID, tid[:])
	b = appendBytes(b, fLinkSpanID, sid[:])
	b = appendTraceState(b, fLinkTraceState, l.SpanContext.TraceState())
	b = appendAttributes(b, fLinkAttributes, l.Attributes)
	b = appendUint32Field(b, fLinkDroppedAttributes, clampUint32(l.DroppedAttributeCount))
	b = appendFixed32Field(b, fLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
	return closeLen(b, start, reserveSpan)
}

// appendSpan appends s as Span message field num, as tracetransform fills it.
func appendSpan(b []byte, num protowire.Number, s *Span) []byte {
	b, start := openLen(b, num, reserveSpan)
	tid, sid := s.SpanContext.TraceID(), s.SpanContext.SpanID()
	b = appendBytes(b, fSpanTraceID, tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	b = appendTraceState(b, fSpanTraceState, s.SpanContext.TraceState())
	if psid := s.Parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, fSpanParentSpanID, psid[:])
	}
	b = appendStringField(b, fSpanName, s.Name)
	if k := spanKind(s.Kind); k != kindUnspecified {
		b = appendTag(b, fSpanKind, protowire.VarintType)
		b = appendVarint(b, k)
	}
	b = appendFixed64Field(b, fSpanStartTime, unixNanos(s.Start))
	b = appendFixed64Field(b, fSpanEndTime, unixNanos(s.End))
	b = appendAttributes(b, fSpanAttributes, s.Attributes)
	b = appendUint32Field(b, fSpanDroppedAttributes, clampUint32(s.DroppedAttributes))
	for i := range s.Events {
		b = appendEvent(b, fSpanEvents, &s.Events[i])
	}
	b = appendUint32Field(b, fSpanDroppedEvents, clampUint32(s.DroppedEvents))
	for i := range s.Links {
		b = appendLink(b, fSpanLinks, &s.Links[i])
	}
	b = appendUint32Field(b, fSpanDroppedLinks, clampUint32(s.DroppedLinks))
	// The SDK always sets Status, so an empty one is still written.
	st, sstart := openLen(b, fSpanStatus, reserveSmall)
	code := statusCode(s.Status.Code)
	if code == statusError {
		st = appendStringField(st, fStatusMessage, s.Status.Description)
	}
	if code != statusUnset {
		st = appendTag(st, fStatusCode, protowire.VarintType)
		st = appendVarint(st, code)
	}
	b = closeLen(st, sstart, reserveSmall)
	b = appendFixed32Field(b, fSpanFlags, spanFlags(s.SpanContext.TraceFlags(), s.Parent))
	return closeLen(b, start, reserveSpan)
}

// emptyScope is the scope a nil Span.Scope stands for.
var emptyScope instrumentation.Scope

// scopeOf returns the scope s belongs to (never nil).
func scopeOf(s *Span) *instrumentation.Scope {
	if s.Scope == nil {
		return &emptyScope
	}
	return s.Scope
}

// sameScope reports whether a and b are equal scopes (cheaply when they are one).
func sameScope(a, b *instrumentation.Scope) bool {
	return a == b || *a == *b
}

// appendScopeSpans appends a ScopeSpans message for scope holding every span of
// spans (in their order) whose scope is scope.
func appendScopeSpans(b []byte, scope *instrumentation.Scope, spans []Span) []byte {
	b, start := openLen(b, fResourceSpansScopeSpans, reserveBatch)
	if *scope != emptyScope {
		// The SDK leaves Scope nil for the zero scope only.
		sc, sstart := openLen(b, fScopeSpansScope, reserveSmall)
		sc = appendStringField(sc, fScopeName, scope.Name)
		sc = appendStringField(sc, fScopeVersion, scope.Version)
		sc = appendSet(sc, fScopeAttributes, &scope.Attributes)
		b = closeLen(sc, sstart, reserveSmall)
	}
	for i := range spans {
		if sameScope(scopeOf(&spans[i]), scope) {
			b = appendSpan(b, fScopeSpansSpans, &spans[i])
		}
	}
	b = appendStringField(b, fScopeSpansSchemaURL, scope.SchemaURL)
	return closeLen(b, start, reserveBatch)
}

// AppendRequest appends to b the OTLP ExportTraceServiceRequest (protobuf) holding
// spans, all of resource res (nil: no Resource message), and returns the extended
// buffer. The request has one ResourceSpans and, in the order of their first span,
// one ScopeSpans per distinct Span.Scope; spans keep their order within a scope. With
// no spans it appends nothing (an empty request). The encoding is what the SDK's
// otlptracehttp exporter sends for the same spans, except that invalid UTF-8 in
// strings is replaced by U+FFFD (the SDK fails the batch) and links carry their
// trace_state (the SDK v1.47 drops it).
//
// Given a buffer with capacity enough for the request, it does not allocate unless a
// span holds slice- or map-valued attributes (their accessors copy) or invalid
// UTF-8, or spans come from more than 16 distinct scopes.
func AppendRequest(b []byte, res *resource.Resource, spans []Span) []byte {
	if len(spans) == 0 {
		return b
	}
	return appendResourceSpans(b, res, spans)
}

// appendResourceSpans appends one ResourceSpans (field 1 of the request) for res and
// spans. Since the request has no other field, requests for several resources are
// the concatenation of their ResourceSpans.
func appendResourceSpans(b []byte, res *resource.Resource, spans []Span) []byte {
	b, start := openLen(b, fRequestResourceSpans, reserveBatch)
	if res != nil {
		r, rstart := openLen(b, fResourceSpansResource, reserveBatch)
		r = appendSet(r, fResourceAttributes, res.Set())
		b = closeLen(r, rstart, reserveBatch)
	}
	// Scopes already written, in the order of their first span: a quadratic search
	// that is cheap for the few scopes a process has.
	var seenArr [16]*instrumentation.Scope
	seen := seenArr[:0]
next:
	for i := range spans {
		sc := scopeOf(&spans[i])
		for _, s := range seen {
			if sameScope(s, sc) {
				continue next
			}
		}
		seen = append(seen, sc)
		b = appendScopeSpans(b, sc, spans[i:])
	}
	b = appendStringField(b, fResourceSpansSchemaURL, res.SchemaURL())
	return closeLen(b, start, reserveBatch)
}
