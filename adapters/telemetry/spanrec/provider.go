// Package spanrec is a lean OpenTelemetry tracer provider: it implements the trace API
// (go.opentelemetry.io/otel/trace) for zraft's spans at a fraction of the SDK's cost per
// span, and exports them in batches through the SDK's exporters.
//
// The SDK's provider allocates a span, a snapshot of it when it ends and a trip through
// a channel to the batch processor's goroutine for every span; exporting then turns each
// snapshot into protocol buffer structs before marshalling them. Here a span is one
// allocation (its attributes and events live inside it up to zraft's needs), End appends
// it to a buffer under a mutex, the export goroutine wakes once per batch (or per
// schedule delay), and an exporter that takes plain span values (FastExporter, such as
// adapters/telemetry/otlphttp's) gets them without any conversion. Exporters that only
// implement sdktrace.SpanExporter get ReadOnlySpan snapshots, built once per batch.
//
// What it does not do: span processors (they need the SDK's ReadWriteSpan), span
// limits other than the specification's defaults, attribute value length limits.
// When the export queue is full, an ended span is dropped, counted (Dropped) and
// reported to the error handler once per batch: tracing never blocks the caller.
package spanrec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
)

// Defaults, the specification's for the batch span processor (OTEL_BSP_*).
const (
	DefaultMaxQueueSize       = 2048
	DefaultMaxExportBatchSize = 512
	DefaultScheduleDelay      = 5 * time.Second
	DefaultExportTimeout      = 30 * time.Second
)

var (
	// ErrQueueFull is reported to the error handler when ended spans were dropped
	// because the export queue was full.
	ErrQueueFull = errors.New("spanrec: export queue full, spans dropped")
	// ErrShutdown is returned by ForceFlush and Shutdown after Shutdown.
	ErrShutdown = errors.New("spanrec: provider is shut down")
)

// FastExporter is an exporter that takes ended spans as plain values; the provider
// hands them over without building ReadOnlySpans. An exporter given in Options that
// implements it is called through it. Export must not keep spans or their slices once
// it returns: their memory serves later spans.
type FastExporter interface {
	Export(ctx context.Context, res *resource.Resource, spans []otlphttp.Span) error
}

// Options configure a Provider. Zero fields take the defaults.
type Options struct {
	// Resource describes the process; default resource.Default().
	Resource *resource.Resource
	// Sampler decides which spans are recorded and exported; default
	// sdktrace.ParentBased(sdktrace.AlwaysSample()), the SDK's default.
	Sampler sdktrace.Sampler
	// Exporters receive every batch, in order, from the export goroutine. The
	// Provider shuts them down in Shutdown.
	Exporters []sdktrace.SpanExporter
	// MaxQueueSize bounds the ended spans waiting for export; default 2048.
	MaxQueueSize int
	// MaxExportBatchSize is the most spans per export call, and the queue length that
	// wakes the export goroutine early; default 512.
	MaxExportBatchSize int
	// ScheduleDelay is the longest an ended span waits for export; default 5 s.
	ScheduleDelay time.Duration
	// ExportTimeout bounds one export call; default 30 s.
	ExportTimeout time.Duration
	// ErrorHandler receives export errors and dropped-span reports; default otel.Handle.
	ErrorHandler func(error)
}

// Provider is a trace.TracerProvider that records spans and exports them in batches.
// Its methods, and those of its tracers and spans, are safe for concurrent use.
type Provider struct {
	embedded.TracerProvider
	res       *resource.Resource
	sampler   sdktrace.Sampler
	exporters []sdktrace.SpanExporter
	fast      []FastExporter // exporters[i] as a FastExporter, or nil
	slow      bool           // some exporter needs ReadOnlySpans
	maxQueue  int
	maxBatch  int
	delay     time.Duration
	timeout   time.Duration
	handle    func(error)

	mu       sync.Mutex
	queue    []*record
	spare    []*record // the previous batch's array, reused
	shutdown bool

	// Records of ended spans come back here once exported, for later spans: a free list
	// of the provider's own rather than a sync.Pool, which the GC empties and which
	// grows its chains when a batch comes back at once.
	freeMu  sync.Mutex
	records []*record

	dropped   atomic.Uint64
	reported  uint64 // dropped count already reported (export goroutine only)
	tracersMu sync.Mutex
	tracers   map[tracerKey]*tracer

	kick    chan struct{}           // the queue reached a batch
	flush   chan chan struct{}      // ForceFlush
	stop    chan struct{}           // closed by Shutdown
	stopCtx context.Context         // Shutdown's, for the last export; set before stop closes
	done    chan struct{}           // the export goroutine returned
	datas   []otlphttp.Span         // export goroutine's scratch
	snaps   []sdktrace.ReadOnlySpan // export goroutine's scratch
	closed  atomic.Bool
}

var _ trace.TracerProvider = (*Provider)(nil)

// New starts a Provider and its export goroutine; Shutdown stops them.
func New(o Options) *Provider {
	p := &Provider{
		res:       o.Resource,
		sampler:   o.Sampler,
		exporters: o.Exporters,
		maxQueue:  o.MaxQueueSize,
		maxBatch:  o.MaxExportBatchSize,
		delay:     o.ScheduleDelay,
		timeout:   o.ExportTimeout,
		handle:    o.ErrorHandler,
		tracers:   map[tracerKey]*tracer{},
		kick:      make(chan struct{}, 1),
		flush:     make(chan chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if p.res == nil {
		p.res = resource.Default()
	}
	if p.sampler == nil {
		p.sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	if p.maxQueue <= 0 {
		p.maxQueue = DefaultMaxQueueSize
	}
	if p.maxBatch <= 0 {
		p.maxBatch = DefaultMaxExportBatchSize
	}
	p.maxBatch = min(p.maxBatch, p.maxQueue)
	if p.delay <= 0 {
		p.delay = DefaultScheduleDelay
	}
	if p.timeout <= 0 {
		p.timeout = DefaultExportTimeout
	}
	if p.handle == nil {
		p.handle = otel.Handle
	}
	for _, e := range p.exporters {
		f, _ := e.(FastExporter)
		p.fast = append(p.fast, f)
		p.slow = p.slow || f == nil
	}
	go p.run()
	return p
}

type tracerKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

// Tracer returns the tracer of the named instrumentation scope (one per scope).
// After Shutdown it returns a no-op tracer.
func (p *Provider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	if p.closed.Load() {
		return tracenoop.NewTracerProvider().Tracer(name)
	}
	c := trace.NewTracerConfig(opts...)
	attrs := c.InstrumentationAttributes()
	k := tracerKey{name: name, version: c.InstrumentationVersion(), schemaURL: c.SchemaURL(), attrs: attrs.Equivalent()}
	p.tracersMu.Lock()
	defer p.tracersMu.Unlock()
	t, ok := p.tracers[k]
	if !ok {
		t = &tracer{p: p, scope: instrumentation.Scope{Name: name, Version: k.version, SchemaURL: k.schemaURL, Attributes: attrs}}
		p.tracers[k] = t
	}
	return t
}

// Dropped returns how many ended spans were dropped because the export queue was full.
func (p *Provider) Dropped() uint64 { return p.dropped.Load() }

// alloc returns a free record, or a new one.
func (p *Provider) alloc() *record {
	p.freeMu.Lock()
	if n := len(p.records); n > 0 {
		r := p.records[n-1]
		p.records[n-1] = nil
		p.records = p.records[:n-1]
		p.freeMu.Unlock()
		r.clean()
		return r
	}
	p.freeMu.Unlock()
	return new(record)
}

// free keeps retired records for later spans; past a queue's worth of free records, the
// GC gets them.
func (p *Provider) free(rs ...*record) {
	p.freeMu.Lock()
	n := min(len(rs), max(p.maxQueue-len(p.records), 0))
	p.records = append(p.records, rs[:n]...)
	p.freeMu.Unlock()
}

// enqueue hands an ended, sampled span to the export goroutine.
func (p *Provider) enqueue(s *record) {
	p.mu.Lock()
	if p.shutdown || len(p.queue) >= p.maxQueue {
		p.mu.Unlock()
		p.dropped.Add(1)
		s.retire()
		p.free(s)
		return
	}
	p.queue = append(p.queue, s)
	full := len(p.queue) == p.maxBatch
	p.mu.Unlock()
	if full {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// run is the export goroutine.
func (p *Provider) run() {
	defer close(p.done)
	t := time.NewTimer(p.delay)
	defer t.Stop()
	for {
		var ack chan struct{}
		select {
		case <-p.kick:
		case <-t.C:
		case ack = <-p.flush:
		case <-p.stop:
			p.exportQueued(p.stopCtx)
			return
		}
		p.exportQueued(context.Background())
		if ack != nil {
			close(ack)
		}
		t.Reset(p.delay)
	}
}

// exportQueued exports what the queue holds, in batches, and reports drops.
func (p *Provider) exportQueued(ctx context.Context) {
	p.mu.Lock()
	all := p.queue
	p.queue, p.spare = p.spare, nil
	p.mu.Unlock()
	for batch := all; len(batch) > 0; {
		n := min(len(batch), p.maxBatch)
		p.export(ctx, batch[:n])
		batch = batch[n:]
	}
	clear(all) // the array is reused: let the spans go
	p.mu.Lock()
	if p.spare == nil && cap(all) > 0 {
		p.spare = all[:0]
	}
	p.mu.Unlock()
	if d := p.dropped.Load(); d > p.reported {
		p.handle(fmt.Errorf("%w: %d since the last report, %d in all (queue size %d)", ErrQueueFull, d-p.reported, d, p.maxQueue))
		p.reported = d
	}
}

// export sends one batch to every exporter, then recycles its records.
func (p *Provider) export(ctx context.Context, batch []*record) {
	p.datas = p.datas[:0]
	for _, s := range batch {
		p.datas = append(p.datas, s.data())
	}
	if p.slow {
		p.snaps = p.snaps[:0]
		for i := range p.datas {
			p.snaps = append(p.snaps, snapshot(&p.datas[i], p.res))
		}
	}
	for i, e := range p.exporters {
		ectx, cancel := context.WithTimeout(ctx, p.timeout)
		var err error
		if f := p.fast[i]; f != nil {
			err = f.Export(ectx, p.res, p.datas)
		} else {
			err = e.ExportSpans(ectx, p.snaps)
		}
		cancel()
		if err != nil {
			p.handle(fmt.Errorf("spanrec: exporting %d spans: %w", len(batch), err))
		}
	}
	clear(p.datas)
	clear(p.snaps)
	for _, r := range batch {
		r.retire()
	}
	p.free(batch...)
}

// snapshot builds the ReadOnlySpan an SDK exporter takes. It copies the slices that
// live in the span's record, which is recycled after the export: SDK exporters may keep
// what they are given (the in-memory one does).
func snapshot(d *otlphttp.Span, res *resource.Resource) sdktrace.ReadOnlySpan {
	return tracetest.SpanStub{
		Name:                 d.Name,
		SpanContext:          d.SpanContext,
		Parent:               d.Parent,
		SpanKind:             d.Kind,
		StartTime:            d.Start,
		EndTime:              d.End,
		Attributes:           slices.Clone(d.Attributes),
		Events:               slices.Clone(d.Events),
		Links:                slices.Clone(d.Links),
		Status:               d.Status,
		DroppedAttributes:    d.DroppedAttributes,
		DroppedEvents:        d.DroppedEvents,
		DroppedLinks:         d.DroppedLinks,
		Resource:             res,
		InstrumentationScope: *d.Scope,
	}.Snapshot()
}

// ForceFlush exports every span ended so far and waits for it, or for ctx.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.closed.Load() {
		return ErrShutdown
	}
	ack := make(chan struct{})
	select {
	case p.flush <- ack:
	case <-p.done:
		return ErrShutdown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued, stops the export goroutine and shuts the exporters
// down. Spans that end afterwards are dropped (and counted). A second call returns
// ErrShutdown.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.closed.Swap(true) {
		return ErrShutdown
	}
	p.mu.Lock()
	p.shutdown = true // spans ending from now on are dropped; the queue is exported below
	p.mu.Unlock()
	// The export goroutine exports what is queued and returns, even if ctx ends first
	// (it then stops after the export in progress).
	p.stopCtx = ctx
	close(p.stop)
	var errs []error
	select {
	case <-p.done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	for _, e := range p.exporters {
		if err := e.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tracer starts the spans of one instrumentation scope.
type tracer struct {
	embedded.Tracer
	p     *Provider
	scope instrumentation.Scope
}

// Start starts a span, child of ctx's span (unless trace.WithNewRoot), and returns a
// context holding it. The sampler decides whether it records; a span it drops is a
// non-recording span with its own span id, unsampled.
func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := trace.NewSpanStartConfig(opts...)
	var parent trace.SpanContext
	sctx := ctx
	if c.NewRoot() {
		sctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	} else {
		parent = trace.SpanContextFromContext(ctx)
	}
	tid := parent.TraceID()
	if !tid.IsValid() {
		tid = newTraceID()
	}
	kind := trace.ValidateSpanKind(c.SpanKind())
	res := t.p.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: sctx, TraceID: tid, Name: name, Kind: kind,
		Attributes: c.Attributes(), Links: c.Links(),
	})
	scc := trace.SpanContextConfig{TraceID: tid, SpanID: newSpanID(), TraceState: res.Tracestate}
	if res.Decision == sdktrace.RecordAndSample {
		scc.TraceFlags = parent.TraceFlags() | trace.FlagsSampled
	} else {
		scc.TraceFlags = parent.TraceFlags() &^ trace.FlagsSampled
	}
	sc := trace.NewSpanContext(scc)
	if res.Decision == sdktrace.Drop || t.p.closed.Load() {
		s := &nonRecording{sc: sc, p: t.p}
		return trace.ContextWithSpan(ctx, s), s
	}
	r := t.p.alloc()
	r.tracer, r.sampled, r.sc, r.parent, r.name, r.kind = t, res.Decision == sdktrace.RecordAndSample, sc, parent, name, kind
	r.start = c.Timestamp()
	if r.start.IsZero() {
		r.start = time.Now()
	}
	if a := res.Attributes; len(a) > 0 {
		r.setAttributes(a)
	}
	if a := c.Attributes(); len(a) > 0 {
		r.setAttributes(a)
	}
	for _, l := range c.Links() {
		if l.SpanContext.IsValid() {
			r.addLink(l)
		}
	}
	r.mu.Lock() // a stale handle may be looking at r.gen
	s := &span{rec: r, gen: r.gen, sc: sc, p: t.p}
	r.mu.Unlock()
	return trace.ContextWithSpan(ctx, s), s
}

// newTraceID returns a random, valid trace id.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		putUint64(id[:8], rand.Uint64())
		putUint64(id[8:], rand.Uint64())
	}
	return id
}

// newSpanID returns a random, valid span id.
func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		putUint64(id[:], rand.Uint64())
	}
	return id
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
