package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Errors of this package; match them with errors.Is.
var (
	// ErrInvalidConfig: an option or OTEL_EXPORTER_OTLP_* variable is invalid.
	ErrInvalidConfig = errors.New("otlphttp: invalid configuration")
	// ErrShutdown: the exporter is shut down (or shut down during the export).
	ErrShutdown = errors.New("otlphttp: exporter is shut down")
	// ErrRequestTooLarge: the encoded request exceeds the maximum request size.
	ErrRequestTooLarge = errors.New("otlphttp: request too large")
	// ErrResponseTooLarge: a success response body exceeds the maximum response size.
	ErrResponseTooLarge = errors.New("otlphttp: response too large")
	// ErrBadResponse: a success response body does not decode.
	ErrBadResponse = errors.New("otlphttp: undecodable response")
	// ErrHTTPStatus: the collector answered with a non-2xx status (see StatusError).
	ErrHTTPStatus = errors.New("otlphttp: HTTP error status")
	// ErrPartialSuccess: the collector accepted the request but rejected spans or
	// warned (see PartialSuccessError).
	ErrPartialSuccess = errors.New("otlphttp: partial success")
)

// StatusError is a non-2xx response; errors.Is(err, ErrHTTPStatus) holds.
type StatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Status is the status line's text, e.g. "400 Bad Request".
	Status string
	// Body is the start of the response body, trimmed (at most 1 KiB).
	Body string
}

// Error describes the response.
func (e *StatusError) Error() string {
	body := e.Body
	if body == "" {
		body = "(empty)"
	}
	return fmt.Sprintf("otlphttp: collector answered %s, body: %q", e.Status, body)
}

// Is reports whether target is ErrHTTPStatus.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// PartialSuccessError is an OTLP partial success: the request was accepted, but
// RejectedSpans spans were not (0 with a Message is a warning);
// errors.Is(err, ErrPartialSuccess) holds.
type PartialSuccessError struct {
	// RejectedSpans is the number of spans the collector dropped.
	RejectedSpans int64
	// Message is the collector's explanation.
	Message string
}

// Error describes the partial success.
func (e *PartialSuccessError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "empty message"
	}
	return fmt.Sprintf("otlphttp: OTLP partial success: %s (%d spans rejected)", msg, e.RejectedSpans)
}

// Is reports whether target is ErrPartialSuccess.
func (e *PartialSuccessError) Is(target error) bool { return target == ErrPartialSuccess }

// retryableError is a failed attempt worth retrying, after at least throttle.
type retryableError struct {
	err      error
	throttle time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

const (
	contentTypeProtobuf = "application/x-protobuf"
	contentTypeJSON     = "application/json"
	userAgent           = "zraft-otlphttp/1 (OTLP/HTTP protobuf trace exporter)"
	maxErrorBody        = 1 << 10
	// maxPooledBuffer: larger buffers are dropped after use, not kept for reuse.
	maxPooledBuffer = 16 << 20
)

// Exporter posts spans to an OTLP/HTTP collector as protobuf. It is an
// sdktrace.SpanExporter and also takes spans as plain Span values (Export), which it
// encodes without building the protobuf structs. It is safe for concurrent use.
type Exporter struct {
	endpoint    string
	header      http.Header
	timeout     time.Duration
	gzip        bool
	client      *http.Client
	transport   *http.Transport // ours, closed on Shutdown; nil with WithHTTPClient
	retry       RetryConfig
	maxRequest  int
	maxResponse int64

	stopCtx context.Context
	stop    context.CancelCauseFunc

	mu        sync.Mutex
	closed    bool
	inflight  int
	drained   chan struct{}
	drainOnce sync.Once

	bufs sync.Pool // *buffers
	gzws sync.Pool // *gzip.Writer
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// buffers are one export's scratch space, reused across exports.
type buffers struct {
	req    []byte
	gz     bytes.Buffer
	resp   []byte
	spans  []Span
	scopes []instrumentation.Scope
	groups []resourceGroup
	idx    []int // resource group of each span in ExportSpans
}

// resourceGroup is the spans of one resource in ExportSpans.
type resourceGroup struct {
	key   attribute.Distinct
	res   *resource.Resource
	n     int
	start int
}

// New returns an exporter configured from the OTEL_EXPORTER_OTLP_(TRACES_)* variables
// (ENDPOINT, HEADERS, TIMEOUT, COMPRESSION, CERTIFICATE, CLIENT_CERTIFICATE,
// CLIENT_KEY), then opts. Invalid settings are errors wrapping ErrInvalidConfig.
// New does not connect.
func New(ctx context.Context, opts ...Option) (*Exporter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.tlsConfig != nil && c.client == nil && !strings.EqualFold(c.endpoint.Scheme, "https") {
		return nil, fmt.Errorf("%w: TLS configuration for the http (not https) endpoint %s", ErrInvalidConfig, c.endpoint)
	}
	e := &Exporter{
		endpoint:    c.endpoint.String(),
		header:      make(http.Header, len(c.headers)+3),
		timeout:     c.timeout,
		gzip:        c.compression == GzipCompression,
		client:      c.client,
		retry:       c.retry,
		maxRequest:  c.maxRequestSize,
		maxResponse: c.maxResponseSize,
		drained:     make(chan struct{}),
	}
	e.header.Set("User-Agent", userAgent)
	for k, v := range c.headers {
		e.header.Set(k, v)
	}
	e.header.Set("Content-Type", contentTypeProtobuf)
	if e.gzip {
		e.header.Set("Content-Encoding", "gzip")
	}
	if e.client == nil {
		e.transport = newTransport(c.tlsConfig)
		e.client = &http.Client{Transport: e.transport}
	}
	e.stopCtx, e.stop = context.WithCancelCause(context.Background())
	return e, nil
}

// newTransport returns a transport with net/http's default settings (built here, not
// cloned, so that a replaced http.DefaultTransport does not change it).
func newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		TLSClientConfig:       tc,
	}
}

// Endpoint returns the URL spans are posted to.
func (e *Exporter) Endpoint() string { return e.endpoint }

// begin registers an export, unless the exporter is shut down.
func (e *Exporter) begin() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.inflight++
	return true
}

// end unregisters an export.
func (e *Exporter) end() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inflight--
	if e.closed && e.inflight == 0 {
		e.drainOnce.Do(func() { close(e.drained) })
	}
}

func (e *Exporter) getBuffers() *buffers {
	if b, ok := e.bufs.Get().(*buffers); ok {
		return b
	}
	return new(buffers)
}

func (e *Exporter) putBuffers(b *buffers) {
	if cap(b.req) > maxPooledBuffer || b.gz.Cap() > maxPooledBuffer || cap(b.resp) > maxPooledBuffer {
		return
	}
	clear(b.spans[:cap(b.spans)]) // drop references to attributes and events
	clear(b.scopes[:cap(b.scopes)])
	clear(b.groups[:cap(b.groups)])
	e.bufs.Put(b)
}

// Export posts spans, all of resource res (see AppendRequest), as one request, and
// retries as RetryConfig says within the timeout and ctx. A non-2xx answer is a
// *StatusError, a partial success a *PartialSuccessError. With no spans it posts
// nothing. After Shutdown it returns ErrShutdown.
func (e *Exporter) Export(ctx context.Context, res *resource.Resource, spans []Span) error {
	if !e.begin() {
		return ErrShutdown
	}
	defer e.end()
	if len(spans) == 0 {
		return nil
	}
	bufs := e.getBuffers()
	defer e.putBuffers(bufs)
	bufs.req = AppendRequest(bufs.req[:0], res, spans)
	return e.upload(ctx, bufs)
}

// ExportSpans posts spans (nil ones skipped) as one request with a ResourceSpans per
// distinct resource, in the order of their first span; it makes the Exporter an
// sdktrace.SpanExporter. Errors are Export's.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if !e.begin() {
		return ErrShutdown
	}
	defer e.end()
	bufs := e.getBuffers()
	defer e.putBuffers(bufs)

	// Group by resource (by attribute set, as the SDK's exporter does), then lay out
	// each group's spans contiguously.
	groups := bufs.groups[:0]
	bufs.idx = grow(bufs.idx, len(spans))
	idx := bufs.idx
	n := 0
	for i, sd := range spans {
		idx[i] = -1
		if sd == nil {
			continue
		}
		res := sd.Resource()
		key := res.Equivalent()
		g := -1
		for j := range groups {
			if groups[j].key == key {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(groups)
			groups = append(groups, resourceGroup{key: key, res: res})
		}
		groups[g].n++
		idx[i] = g
		n++
	}
	bufs.groups = groups
	if n == 0 {
		return nil
	}
	off := 0
	for j := range groups {
		groups[j].start = off
		off += groups[j].n
		groups[j].n = 0
	}
	bufs.spans = grow(bufs.spans, n)
	bufs.scopes = grow(bufs.scopes, n)
	for i, sd := range spans {
		if idx[i] < 0 {
			continue
		}
		g := &groups[idx[i]]
		pos := g.start + g.n
		g.n++
		bufs.scopes[pos] = sd.InstrumentationScope()
		bufs.spans[pos] = fromReadOnly(sd, &bufs.scopes[pos])
	}
	b := bufs.req[:0]
	for _, g := range groups {
		b = appendResourceSpans(b, g.res, bufs.spans[g.start:g.start+g.n])
	}
	bufs.req = b
	return e.upload(ctx, bufs)
}

// fromReadOnly returns sd as a Span of scope (where sd's scope is to be kept).
func fromReadOnly(sd sdktrace.ReadOnlySpan, scope *instrumentation.Scope) Span {
	return Span{
		Name:              sd.Name(),
		SpanContext:       sd.SpanContext(),
		Parent:            sd.Parent(),
		Kind:              sd.SpanKind(),
		Start:             sd.StartTime(),
		End:               sd.EndTime(),
		Attributes:        sd.Attributes(),
		Events:            sd.Events(),
		Links:             sd.Links(),
		Status:            sd.Status(),
		DroppedAttributes: sd.DroppedAttributes(),
		DroppedEvents:     sd.DroppedEvents(),
		DroppedLinks:      sd.DroppedLinks(),
		Scope:             scope,
	}
}

// grow returns s resliced to n elements, reallocated if too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Shutdown stops the exporter: later exports return ErrShutdown, exports in flight
// are cancelled, and it waits for them to return (or ctx to end) before closing the
// idle connections of its own transport. Calling it again is harmless.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		e.stop(ErrShutdown)
	}
	if e.inflight == 0 {
		e.drainOnce.Do(func() { close(e.drained) })
	}
	e.mu.Unlock()
	select {
	case <-e.drained:
	default:
		select {
		case <-e.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	return nil
}

// upload compresses bufs.req if configured and posts it.
func (e *Exporter) upload(ctx context.Context, bufs *buffers) error {
	if len(bufs.req) > e.maxRequest {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, len(bufs.req), e.maxRequest)
	}
	body := bufs.req
	if e.gzip {
		bufs.gz.Reset()
		zw, ok := e.gzws.Get().(*gzip.Writer)
		if ok {
			zw.Reset(&bufs.gz)
		} else {
			zw = gzip.NewWriter(&bufs.gz)
		}
		_, err := zw.Write(body)
		if err == nil {
			err = zw.Close()
		}
		zw.Reset(io.Discard)
		e.gzws.Put(zw)
		if err != nil {
			return fmt.Errorf("otlphttp: gzip: %w", err)
		}
		body = bufs.gz.Bytes()
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopAfter := context.AfterFunc(e.stopCtx, func() { cancel(ErrShutdown) })
	defer stopAfter()
	if e.timeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, e.timeout)
		defer cancelTimeout()
	}
	return e.send(ctx, body, bufs)
}

// send posts body until it succeeds, fails for good, or retries run out.
func (e *Exporter) send(ctx context.Context, body []byte, bufs *buffers) error {
	start := time.Now()
	interval := e.retry.InitialInterval
	for {
		err := e.post(ctx, body, bufs)
		re, ok := err.(*retryableError) //nolint:errorlint // post returns it unwrapped
		if !ok {
			return err
		}
		if !e.retry.Enabled {
			return re.err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", context.Cause(ctx), re.err)
		}
		// ±50 % jitter around the interval, which grows ×1.5 up to MaxInterval.
		delay := interval/2 + rand.N(interval+1) // #nosec G404 -- jitter
		interval = min(interval*3/2, e.retry.MaxInterval)
		delay = max(delay, re.throttle)
		elapsed := time.Since(start)
		if e.retry.MaxElapsedTime > 0 && elapsed+delay > e.retry.MaxElapsedTime {
			return fmt.Errorf("otlphttp: no retry in %v (retrying for %v at most): %w", delay, e.retry.MaxElapsedTime, re.err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return fmt.Errorf("otlphttp: no retry in %v, past the export's deadline: %w", delay, re.err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", context.Cause(ctx), re.err)
		}
	}
}

// post makes one attempt.
func (e *Exporter) post(ctx context.Context, body []byte, bufs *buffers) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("otlphttp: %w", err)
	}
	req.Header = e.header.Clone()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	resp, err := e.client.Do(req) // #nosec G107 G704 -- the configured collector
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		var ue *url.Error
		if errors.As(err, &ue) && ue.Temporary() {
			return &retryableError{err: fmt.Errorf("otlphttp: %w", err)}
		}
		return fmt.Errorf("otlphttp: %w", err)
	}
	data, tooLarge, readErr := readBody(resp.Body, e.maxResponse, bufs.resp[:0])
	bufs.resp = data[:0]
	if err := resp.Body.Close(); err != nil && readErr == nil {
		readErr = err
	}

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		switch {
		case tooLarge:
			return fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, e.maxResponse)
		case readErr != nil:
			return fmt.Errorf("otlphttp: reading the response: %w", readErr)
		}
		return partialSuccess(resp.Header.Get("Content-Type"), data)
	}
	se := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if len(data) > maxErrorBody {
		data = data[:maxErrorBody]
	}
	se.Body = strings.TrimSpace(strings.ToValidUTF8(string(data), "\uFFFD"))
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &retryableError{err: se, throttle: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return se
	}
}

// readBody reads r into dst, at most limit bytes; tooLarge reports more.
func readBody(r io.Reader, limit int64, dst []byte) (data []byte, tooLarge bool, err error) {
	for {
		if int64(len(dst)) > limit {
			return dst[:limit], true, nil
		}
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := min(int64(cap(dst)-len(dst)), limit+1-int64(len(dst)))
		n, err := r.Read(dst[len(dst) : len(dst)+int(room)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, int64(len(dst)) > limit, nil
		}
		if err != nil {
			return dst, false, err
		}
	}
}

// retryAfter parses a Retry-After value (seconds or an HTTP date) relative to now;
// anything else is 0.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		if s > int64(math63/time.Second) {
			return math63
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// partialSuccess decodes a 2xx response body (protobuf or JSON
// ExportTraceServiceResponse; other content types are ignored, as by the SDK) and
// returns a *PartialSuccessError if it reports one.
func partialSuccess(contentType string, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	mt, _, _ := strings.Cut(contentType, ";")
	var resp coltracepb.ExportTraceServiceResponse
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case contentTypeProtobuf:
		if err := proto.Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
	case contentTypeJSON:
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
	default:
		return nil
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedSpans() == 0 && ps.GetErrorMessage() == "" {
		return nil
	}
	return &PartialSuccessError{RejectedSpans: ps.GetRejectedSpans(), Message: ps.GetErrorMessage()}
}
