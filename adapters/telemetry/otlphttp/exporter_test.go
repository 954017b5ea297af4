package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
)

// otelVars are the variables New reads; clearEnv unsets them for a test.
var otelVars = []string{"ENDPOINT", "HEADERS", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range otelVars {
		t.Setenv(envPrefix+v, "")
		t.Setenv(envTracesPrefix+v, "")
	}
}

// collector is a scriptable httptest OTLP receiver.
type collector struct {
	srv      *httptest.Server
	attempts atomic.Int32
	mu       sync.Mutex
	reqs     []*http.Request
	bodies   [][]byte // decompressed
	// answer writes the response to attempt n (1-based); nil: 200, empty body.
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newCollector(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *collector {
	t.Helper()
	c := &collector{answer: answer}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close) // after the exporter's Shutdown (cleanups run last first)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	n := int(c.attempts.Add(1))
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd = zr
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	if c.answer != nil {
		c.answer(n, w, r)
	}
}

func (c *collector) url() string { return c.srv.URL + "/v1/traces" }

// newTestExporter returns an exporter to c, shut down when the test ends.
func newTestExporter(t *testing.T, c *collector, opts ...Option) *Exporter {
	t.Helper()
	e, err := New(context.Background(), append([]Option{WithEndpointURL(c.url())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

var testRes = resource.NewSchemaless(attribute.String("service.name", "zraft"))

func testSpans(n int) []Span { return toSpans(zraftSpans(n, testRes)) }

// fastRetry retries quickly, so that tests do not wait 5 s.
var fastRetry = WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsedTime: 5 * time.Second})

func TestExportPostsRequest(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-env=1,authorization=Bearer%20env")
	c := newCollector(t, nil)
	e := newTestExporter(t, c, WithHeaders(map[string]string{"X-Tenant": "t1", "Authorization": "Bearer opt"}))
	spans := testSpans(5)
	if err := e.Export(context.Background(), testRes, spans); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(context.Background(), testRes, nil); err != nil {
		t.Fatal(err)
	}
	if n := c.attempts.Load(); n != 1 {
		t.Fatalf("%d requests, want 1 (none for an empty batch)", n)
	}
	r := c.reqs[0]
	for k, want := range map[string]string{
		"Content-Type":     "application/x-protobuf",
		"X-Tenant":         "t1",
		"Authorization":    "Bearer opt",
		"X-Env":            "", // WithHeaders replaces the environment's headers
		"Content-Encoding": "",
		"User-Agent":       userAgent,
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		t.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if !bytes.Equal(c.bodies[0], AppendRequest(nil, testRes, spans)) {
		t.Error("body is not AppendRequest's encoding")
	}
}

func TestExportGzip(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
	c := newCollector(t, nil)
	e := newTestExporter(t, c)
	for i := range 3 { // reuses the pooled gzip writer and buffers
		spans := testSpans(10 + i)
		if err := e.Export(context.Background(), testRes, spans); err != nil {
			t.Fatal(err)
		}
		if got := c.reqs[i].Header.Get("Content-Encoding"); got != "gzip" {
			t.Errorf("Content-Encoding %q", got)
		}
		if !bytes.Equal(c.bodies[i], AppendRequest(nil, testRes, spans)) {
			t.Error("gunzipped body is not AppendRequest's encoding")
		}
	}
}

func TestExportRetriesHonouringRetryAfter(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	e := newTestExporter(t, c, fastRetry)
	start := time.Now()
	if err := e.Export(context.Background(), testRes, testSpans(1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, before Retry-After's 1 s", d)
	}
	if n := c.attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestExportRetriesRetryableStatuses(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			clearEnv(t)
			c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n <= 3 {
					w.WriteHeader(code)
				}
			})
			e := newTestExporter(t, c, fastRetry)
			if err := e.Export(context.Background(), testRes, testSpans(1)); err != nil {
				t.Fatal(err)
			}
			if n := c.attempts.Load(); n != 4 {
				t.Errorf("%d attempts, want 4", n)
			}
			for i, b := range c.bodies {
				if !bytes.Equal(b, c.bodies[0]) {
					t.Errorf("attempt %d posted another body", i+1)
				}
			}
		})
	}
}

func TestExportRetryDisabled(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	e := newTestExporter(t, c, WithRetry(RetryConfig{}))
	err := e.Export(context.Background(), testRes, testSpans(1))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || !errors.Is(err, ErrHTTPStatus) {
		t.Fatalf("err %v, want a 503 StatusError", err)
	}
	if n := c.attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestExportClientErrorIsNotRetried(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad spans\n", http.StatusBadRequest)
	})
	e := newTestExporter(t, c, fastRetry)
	err := e.Export(context.Background(), testRes, testSpans(1))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || se.Body != "bad spans" {
		t.Fatalf("err %v (%#v), want a 400 StatusError with the body", err, se)
	}
	if !strings.Contains(err.Error(), "bad spans") {
		t.Errorf("error %q does not quote the body", err)
	}
	if n := c.attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestExportTimeout(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5000")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "200")
	release := make(chan struct{})
	c := newCollector(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	e := newTestExporter(t, c)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // in case the timeout is ignored
	defer cancel()
	err := e.Export(ctx, testRes, testSpans(1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline error", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("returned after %v, want about 200 ms", d)
	}
}

// TestExportRetryAfterBeyondTimeout: a Retry-After past the deadline ends the export
// at once instead of waiting for the deadline.
func TestExportRetryAfterBeyondTimeout(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	e := newTestExporter(t, c, fastRetry, WithTimeout(2*time.Second))
	start := time.Now()
	err := e.Export(context.Background(), testRes, testSpans(1))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("err %v, want the 429", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestExportContextCancelled(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	e := newTestExporter(t, c, WithRetry(RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.Export(ctx, testRes, testSpans(1))
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrHTTPStatus) {
		t.Fatalf("err %v", err)
	}
}

func TestExportPartialSuccess(t *testing.T) {
	ps := &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 3, ErrorMessage: "too old"}}
	pb, err := proto.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	rejectedOnly, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2}})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		rejected    int64
		msg         string
		wantErr     error
	}{
		{"protobuf", "application/x-protobuf", pb, 3, "too old", ErrPartialSuccess},
		{"rejected only", "application/x-protobuf", rejectedOnly, 2, "", ErrPartialSuccess},
		{"json", "application/json; charset=utf-8", []byte(`{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}`), 3, "too old", ErrPartialSuccess},
		{"json warning", "application/json", []byte(`{"partial_success":{"error_message":"slow down"}}`), 0, "slow down", ErrPartialSuccess},
		{"empty partial success", "application/x-protobuf", empty, 0, "", nil},
		{"empty body", "application/x-protobuf", nil, 0, "", nil},
		{"other content type", "text/plain", []byte("ok"), 0, "", nil},
		{"garbage", "application/x-protobuf", []byte{0xff, 0xff}, 0, "", ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			clearEnv(t)
			c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write(tc.body)
			})
			e := newTestExporter(t, c, fastRetry)
			err := e.Export(context.Background(), testRes, testSpans(4))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			var pe *PartialSuccessError
			if errors.As(err, &pe) && (pe.RejectedSpans != tc.rejected || pe.Message != tc.msg) {
				t.Errorf("partial success %+v, want %d %q", pe, tc.rejected, tc.msg)
			}
			if n := c.attempts.Load(); n != 1 {
				t.Errorf("%d attempts", n)
			}
		})
	}
}

func TestExportResponseTooLarge(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(make([]byte, 2000))
	})
	e := newTestExporter(t, c, WithMaxResponseSize(1000))
	if err := e.Export(context.Background(), testRes, testSpans(1)); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err %v, want ErrResponseTooLarge", err)
	}
}

func TestExportRequestTooLarge(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, nil)
	e := newTestExporter(t, c, WithMaxRequestSize(100))
	if err := e.Export(context.Background(), testRes, testSpans(5)); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("err %v, want ErrRequestTooLarge", err)
	}
	if n := c.attempts.Load(); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestShutdown(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	entered := make(chan struct{}, 1)
	c := newCollector(t, func(n int, _ http.ResponseWriter, r *http.Request) {
		if n == 2 {
			entered <- struct{}{}
			<-r.Context().Done() // until the exporter gives up
		}
	})
	e := newTestExporter(t, c)
	ctx := context.Background()
	if err := e.Export(ctx, testRes, testSpans(1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Export(ctx, testRes, testSpans(1)) }()
	<-entered
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done: // Shutdown waited for it
		if !errors.Is(err, ErrShutdown) {
			t.Errorf("in-flight export: %v, want ErrShutdown", err)
		}
	default:
		t.Error("Shutdown returned before the in-flight export")
	}
	if err := e.Export(ctx, testRes, testSpans(1)); !errors.Is(err, ErrShutdown) {
		t.Errorf("Export after Shutdown: %v", err)
	}
	if err := e.ExportSpans(ctx, zraftSpans(1, testRes)); !errors.Is(err, ErrShutdown) {
		t.Errorf("ExportSpans after Shutdown: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestShutdownContext: Shutdown gives up waiting when its context ends.
func TestShutdownContext(t *testing.T) {
	e, err := New(context.Background(), WithEndpointURL("http://127.0.0.1:1/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.begin() { // an export that does not end yet
		t.Fatal("begin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	e.end()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestExportConcurrent(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, nil)
	e := newTestExporter(t, c, WithCompression(GzipCompression))
	const workers, batches = 6, 10
	byLen := make(map[int][]Span)
	for w := range workers {
		byLen[1+w] = testSpans(1 + w)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			spans := byLen[1+w]
			for range batches {
				if err := e.Export(context.Background(), testRes, spans); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) != workers*batches {
		t.Fatalf("%d bodies", len(c.bodies))
	}
	for _, b := range c.bodies {
		req := decodeRequest(t, b)
		n := len(req.ResourceSpans[0].ScopeSpans[0].Spans)
		if !bytes.Equal(b, AppendRequest(nil, testRes, byLen[n])) {
			t.Fatalf("a body of %d spans is not their encoding", n)
		}
	}
}

// TestExportSpansIsASpanExporter runs the exporter under a real TracerProvider with a
// batch span processor.
func TestExportSpansIsASpanExporter(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, nil)
	e := newTestExporter(t, c)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(e), sdktrace.WithResource(testRes))
	for range 10 {
		_, sp := tp.Tracer("t").Start(context.Background(), "op")
		sp.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil { // flushes, then shuts e down
		t.Fatal(err)
	}
	n := 0
	for _, b := range c.bodies {
		for _, ss := range decodeRequest(t, b).ResourceSpans[0].ScopeSpans {
			n += len(ss.Spans)
		}
	}
	if n != 10 {
		t.Errorf("%d spans exported, want 10", n)
	}
	if err := e.Export(context.Background(), testRes, testSpans(1)); !errors.Is(err, ErrShutdown) {
		t.Errorf("after the provider's Shutdown: %v", err)
	}
}

func TestExportConnectionRefused(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e, err := New(context.Background(), WithEndpointURL(url+"/v1/traces"), fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Shutdown(context.Background()) }()
	if err := e.Export(context.Background(), testRes, testSpans(1)); err == nil {
		t.Fatal("no error from a closed port")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"99999999999999999":             math63,
		"Thu, 26 Nov 2026 09:00:30 GMT": 30 * time.Second,
		"Thu, 26 Nov 2026 08:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestShutdownIdleWithDoneContext: with nothing in flight, Shutdown succeeds even
// with a context that has already ended.
func TestShutdownIdleWithDoneContext(t *testing.T) {
	for range 20 {
		e, err := New(context.Background(), WithEndpointURL("http://127.0.0.1:1/v1/traces"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
}
