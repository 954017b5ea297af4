package spanrec

import (
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
)

// Span limits, the OpenTelemetry specification's defaults (OTEL_SPAN_*_COUNT_LIMIT):
// past them a span counts what it dropped.
const (
	maxAttributes      = 128
	maxEvents          = 128
	maxLinks           = 128
	maxEventAttributes = 128
)

// Inline capacities: zraft's spans have at most four attributes and two events, which
// then live in the span's own allocation.
const (
	inlineAttributes = 4
	inlineEvents     = 2
)

// record holds a recording span's data. Records are pooled: once a span has ended and
// its batch has been exported, its record is cleared and serves a later span. The
// handle (span) a caller holds names its record and the record's generation at Start,
// so that a caller that keeps a span after End cannot touch the record's next life:
// every method checks the generation under the record's lock.
type record struct {
	mu      sync.Mutex
	gen     uint64 // bumped when the record is recycled
	ended   bool
	sampled bool // exported when ended (false: recorded only, as the sampler decided)

	// Written only before End; read without the lock by the export goroutine after End.
	tracer   *tracer
	sc       trace.SpanContext
	parent   trace.SpanContext
	name     string
	kind     trace.SpanKind
	start    time.Time
	end      time.Time
	attrs    []attribute.KeyValue
	events   []sdktrace.Event
	links    []sdktrace.Link
	status   sdktrace.Status
	dAttrs   int
	dEvents  int
	dLinks   int
	inAttrs  [inlineAttributes]attribute.KeyValue
	inEvents [inlineEvents]sdktrace.Event
}

// retire bumps r's generation, so that old handles stop reaching it; the caller owns r
// (it was exported, or never queued) and hands it to Provider.free next. Clearing it
// waits for its next Start (clean), on the goroutine that fills it again: the record's
// memory then moves between cores once, not twice.
func (r *record) retire() {
	r.mu.Lock()
	r.gen++
	r.mu.Unlock()
}

// clean clears what the record's previous span left, except the mutex and the
// generation. Nobody else reaches r: its old handles see another generation.
func (r *record) clean() {
	r.ended, r.sampled = false, false
	r.tracer, r.sc, r.parent, r.name, r.kind = nil, trace.SpanContext{}, trace.SpanContext{}, "", 0
	r.start, r.end = time.Time{}, time.Time{}
	clear(r.inAttrs[:min(len(r.attrs), inlineAttributes)])
	clear(r.inEvents[:min(len(r.events), inlineEvents)])
	r.attrs, r.events, r.links = nil, nil, nil
	r.status, r.dAttrs, r.dEvents, r.dLinks = sdktrace.Status{}, 0, 0, 0
}

// span is the handle of a recording span that Start returns: the record and its
// generation, and the span context (valid forever). Its methods are safe for
// concurrent use; after End they do nothing.
type span struct {
	embedded.Span
	rec *record
	gen uint64
	sc  trace.SpanContext
	p   *Provider
}

var _ trace.Span = (*span)(nil)

// lock locks the span's record and returns it, or nil if the span has ended (its
// record may already serve another span).
func (s *span) lock() *record {
	r := s.rec
	r.mu.Lock()
	if r.gen != s.gen || r.ended {
		r.mu.Unlock()
		return nil
	}
	return r
}

// End ends the span: its end time is now (or the option's timestamp) and, if sampled,
// it goes to the exporters with the next batch. Calls after the first do nothing.
func (s *span) End(options ...trace.SpanEndOption) {
	r := s.lock()
	if r == nil {
		return
	}
	r.ended = true
	var end time.Time
	if len(options) > 0 {
		c := trace.NewSpanEndConfig(options...)
		end = c.Timestamp()
	}
	if end.IsZero() {
		end = r.now()
	}
	r.end = end
	r.mu.Unlock()
	if r.sampled {
		s.p.enqueue(r)
	} else {
		r.retire()
		s.p.free(r)
	}
}

// AddEvent records an event: its name, its time (now unless an option gives one) and
// its attributes.
func (s *span) AddEvent(name string, options ...trace.EventOption) {
	var (
		ts    time.Time // zero: now, read under the record's lock
		attrs []attribute.KeyValue
	)
	if len(options) > 0 {
		c := trace.NewEventConfig(options...)
		ts, attrs = c.Timestamp(), c.Attributes()
	}
	s.addEvent(name, ts, attrs)
}

// now is the current time as the span's start plus the time elapsed since on the
// monotonic clock, as the SDK ends its spans: one clock read instead of time.Now's two
// (wall and monotonic), and durations that a wall-clock step cannot make negative.
// The caller holds r.mu.
func (r *record) now() time.Time { return r.start.Add(time.Since(r.start)) }

func (s *span) addEvent(name string, ts time.Time, attrs []attribute.KeyValue) {
	r := s.lock()
	if r == nil {
		return
	}
	defer r.mu.Unlock()
	if len(r.events) >= maxEvents {
		r.dEvents++
		return
	}
	if ts.IsZero() {
		ts = r.now()
	}
	ev := sdktrace.Event{Name: name, Time: ts}
	if len(attrs) > 0 {
		n := min(len(attrs), maxEventAttributes)
		ev.Attributes = append([]attribute.KeyValue(nil), attrs[:n]...)
		ev.DroppedAttributeCount = len(attrs) - n
	}
	if r.events == nil {
		r.events = r.inEvents[:0]
	}
	r.events = append(r.events, ev)
}

// AddLink links the span to another; links without a valid span context are ignored,
// as the SDK ignores them.
func (s *span) AddLink(link trace.Link) {
	if !link.SpanContext.IsValid() {
		return
	}
	if r := s.lock(); r != nil {
		r.addLink(link)
		r.mu.Unlock()
	}
}

func (r *record) addLink(link trace.Link) {
	if len(r.links) >= maxLinks {
		r.dLinks++
		return
	}
	l := sdktrace.Link{SpanContext: link.SpanContext}
	if len(link.Attributes) > 0 {
		n := min(len(link.Attributes), maxEventAttributes)
		l.Attributes = append([]attribute.KeyValue(nil), link.Attributes[:n]...)
		l.DroppedAttributeCount = len(link.Attributes) - n
	}
	r.links = append(r.links, l)
}

// IsRecording reports whether the span still records (it is not ended).
func (s *span) IsRecording() bool {
	r := s.lock()
	if r == nil {
		return false
	}
	r.mu.Unlock()
	return true
}

// RecordError records err as an "exception" event with its type and message, as the
// SDK does (no stack trace).
func (s *span) RecordError(err error, options ...trace.EventOption) {
	if err == nil {
		return
	}
	c := trace.NewEventConfig(options...)
	attrs := make([]attribute.KeyValue, 0, 2+len(c.Attributes()))
	attrs = append(attrs, attribute.String("exception.type", errorType(err)),
		attribute.String("exception.message", err.Error()))
	attrs = append(attrs, c.Attributes()...)
	s.addEvent("exception", c.Timestamp(), attrs)
}

// errorType names err's type as the SDK does: package path and type name.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// SpanContext returns the span's identity.
func (s *span) SpanContext() trace.SpanContext { return s.sc }

// SetStatus sets the status as the specification says: Unset is ignored, Ok is final,
// and a description is kept only with Error.
func (s *span) SetStatus(code codes.Code, description string) {
	if code == codes.Unset {
		return
	}
	r := s.lock()
	if r == nil {
		return
	}
	defer r.mu.Unlock()
	if r.status.Code == codes.Ok {
		return
	}
	st := sdktrace.Status{Code: code}
	if code == codes.Error {
		st.Description = description
	}
	r.status = st
}

// SetName renames the span.
func (s *span) SetName(name string) {
	if r := s.lock(); r != nil {
		r.name = name
		r.mu.Unlock()
	}
}

// SetAttributes sets attributes: a key set again takes its new value; invalid ones, and
// new keys past the limit, are counted as dropped.
func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	if r := s.lock(); r != nil {
		r.setAttributes(kv)
		r.mu.Unlock()
	}
}

func (r *record) setAttributes(kv []attribute.KeyValue) {
	if r.attrs == nil {
		r.attrs = r.inAttrs[:0]
	}
next:
	for _, a := range kv {
		if !a.Valid() {
			r.dAttrs++ // as the SDK counts them
			continue
		}
		for i := range r.attrs {
			if r.attrs[i].Key == a.Key {
				r.attrs[i] = a
				continue next
			}
		}
		if len(r.attrs) >= maxAttributes {
			r.dAttrs++
			continue
		}
		r.attrs = append(r.attrs, a)
	}
}

// TracerProvider returns the provider that made the span.
func (s *span) TracerProvider() trace.TracerProvider { return s.p }

// data returns the ended span as the exporters read it. The slices are the record's:
// valid until the record is recycled.
func (r *record) data() otlphttp.Span {
	return otlphttp.Span{
		Name:              r.name,
		SpanContext:       r.sc,
		Parent:            r.parent,
		Kind:              r.kind,
		Start:             r.start,
		End:               r.end,
		Attributes:        r.attrs,
		Events:            r.events,
		Links:             r.links,
		Status:            r.status,
		DroppedAttributes: r.dAttrs,
		DroppedEvents:     r.dEvents,
		DroppedLinks:      r.dLinks,
		Scope:             &r.tracer.scope,
	}
}

// nonRecording is a span the sampler dropped: it carries its span context (so that
// propagation still works, unsampled) and records nothing.
type nonRecording struct {
	noop.Span
	sc trace.SpanContext
	p  *Provider
}

// SpanContext returns the span's identity.
func (s *nonRecording) SpanContext() trace.SpanContext { return s.sc }

// TracerProvider returns the provider that made the span.
func (s *nonRecording) TracerProvider() trace.TracerProvider { return s.p }
