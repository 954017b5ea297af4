package otlphttp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// fuzzReader turns fuzz input into field values; past the end it yields zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) uint64() uint64 {
	var a [8]byte
	n := copy(a[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(a[:])
}

// string returns raw bytes as a string: any length up to 63, any content (invalid
// UTF-8 included).
func (r *fuzzReader) string() string {
	n := min(int(r.byte()%64), len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *fuzzReader) value(depth int) attribute.Value {
	n := int(r.byte() % 4)
	switch r.byte() % 12 {
	case 0:
		return attribute.Value{}
	case 1:
		return attribute.BoolValue(r.byte()&1 == 1)
	case 2:
		return attribute.Int64Value(int64(r.uint64())) // #nosec G115 -- any bits
	case 3:
		return attribute.Float64Value(math.Float64frombits(r.uint64()))
	case 4:
		return attribute.StringValue(r.string())
	case 5:
		return attribute.ByteSliceValue([]byte(r.string()))
	case 6:
		v := make([]bool, n)
		for i := range v {
			v[i] = r.byte()&1 == 1
		}
		return attribute.BoolSliceValue(v)
	case 7:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r.uint64()) // #nosec G115 -- any bits
		}
		return attribute.Int64SliceValue(v)
	case 8:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(r.uint64())
		}
		return attribute.Float64SliceValue(v)
	case 9:
		v := make([]string, n)
		for i := range v {
			v[i] = r.string()
		}
		return attribute.StringSliceValue(v)
	case 10:
		if depth == 0 {
			return attribute.Value{}
		}
		v := make([]attribute.Value, n)
		for i := range v {
			v[i] = r.value(depth - 1)
		}
		return attribute.SliceValue(v...)
	default:
		if depth == 0 {
			return attribute.Value{}
		}
		return attribute.MapValue(r.attrs(depth - 1)...)
	}
}

func (r *fuzzReader) attrs(depth int) []attribute.KeyValue {
	out := make([]attribute.KeyValue, r.byte()%4)
	for i := range out {
		out[i] = attribute.KeyValue{Key: attribute.Key(r.string()), Value: r.value(depth)}
	}
	return out
}

func (r *fuzzReader) spanContext() trace.SpanContext {
	var cfg trace.SpanContextConfig
	binary.LittleEndian.PutUint64(cfg.TraceID[:8], r.uint64())
	binary.LittleEndian.PutUint64(cfg.TraceID[8:], r.uint64())
	binary.LittleEndian.PutUint64(cfg.SpanID[:], r.uint64())
	cfg.TraceFlags = trace.TraceFlags(r.byte())
	cfg.Remote = r.byte()&1 == 1
	if ts, err := trace.ParseTraceState(r.string()); err == nil {
		cfg.TraceState = ts
	}
	return trace.NewSpanContext(cfg)
}

func (r *fuzzReader) time() time.Time {
	return time.Unix(0, int64(r.uint64())) // #nosec G115 -- any instant, negative ones too
}

func (r *fuzzReader) count() int {
	return int(int64(r.uint64())) // #nosec G115 -- any count, negative ones too
}

// spans returns up to 8 spans with fields from the input; span i has span ID i+1 so
// that a decoded span can be found.
func (r *fuzzReader) spans() ([]Span, *resource.Resource) {
	scopes := []*instrumentation.Scope{nil, {}, {Name: r.string(), Version: r.string(), SchemaURL: r.string(),
		Attributes: attribute.NewSet(r.attrs(1)...)}}
	res := resource.NewWithAttributes(r.string(), r.attrs(1)...)
	if r.byte()&1 == 1 {
		res = nil
	}
	spans := make([]Span, 1+r.byte()%8)
	for i := range spans {
		s := &spans[i]
		s.Name = r.string()
		s.SpanContext = r.spanContext()
		var sid trace.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1)) // #nosec G115 -- small
		s.SpanContext = s.SpanContext.WithSpanID(sid)
		s.Parent = r.spanContext()
		s.Kind = trace.SpanKind(r.byte() % 8)
		s.Start, s.End = r.time(), r.time()
		s.Attributes = r.attrs(2)
		for range r.byte() % 3 {
			s.Events = append(s.Events, sdktrace.Event{Name: r.string(), Time: r.time(), Attributes: r.attrs(1), DroppedAttributeCount: r.count()})
		}
		for range r.byte() % 3 {
			s.Links = append(s.Links, sdktrace.Link{SpanContext: r.spanContext(), Attributes: r.attrs(1), DroppedAttributeCount: r.count()})
		}
		s.Status = sdktrace.Status{Code: codes.Code(r.byte() % 4), Description: r.string()}
		s.DroppedAttributes, s.DroppedEvents, s.DroppedLinks = r.count(), r.count(), r.count()
		s.Scope = scopes[r.byte()%3]
	}
	return spans, res
}

// FuzzAppendRequest: the encoder does not panic on any field content, appends to
// what the buffer held, and its output unmarshals into the generated types, holds
// every span once with its (UTF-8-repaired) name, and is canonical (the bytes
// proto.Marshal makes of the decoded request).
func FuzzAppendRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05hello\x03\xff\xfe\xfd"))
	f.Add(bytes.Repeat([]byte{7, 200, 3, 99, 11, 4}, 100))
	f.Add(bytes.Repeat([]byte{0xff}, 600))
	f.Fuzz(func(t *testing.T, data []byte) {
		spans, res := (&fuzzReader{b: data}).spans()
		b := AppendRequest([]byte("prefix"), res, spans)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("prefix overwritten")
		}
		b = b[len("prefix"):]
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatalf("output does not unmarshal: %v", err)
		}
		seen := make([]bool, len(spans))
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					i := binary.BigEndian.Uint64(sp.SpanId) - 1
					if i >= uint64(len(spans)) || seen[i] {
						t.Fatalf("span ID %x unknown or repeated", sp.SpanId)
					}
					seen[i] = true
					if want := strings.ToValidUTF8(spans[i].Name, "\uFFFD"); sp.Name != want {
						t.Errorf("span %d name %q, want %q", i, sp.Name, want)
					}
					if len(sp.Attributes) != len(spans[i].Attributes) || len(sp.Events) != len(spans[i].Events) || len(sp.Links) != len(spans[i].Links) {
						t.Errorf("span %d: attributes, events or links lost", i)
					}
				}
			}
		}
		for i, ok := range seen {
			if !ok {
				t.Errorf("span %d missing", i)
			}
		}
		canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, canon) {
			t.Errorf("output is not canonical (%d bytes, proto.Marshal %d)", len(b), len(canon))
		}
	})
}

// FuzzPartialSuccess: decoding a response body never panics and agrees with
// proto.Unmarshal.
func FuzzPartialSuccess(f *testing.F) {
	ps, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 3, ErrorMessage: "m"}})
	f.Add(false, ps)
	f.Add(false, []byte{0x0a, 0x00})
	f.Add(true, []byte(`{"partialSuccess":{"rejectedSpans":"3","errorMessage":"m"}}`))
	f.Add(true, []byte(`{"partialSuccess":{"rejectedSpans":1e3}}`))
	f.Fuzz(func(t *testing.T, isJSON bool, body []byte) {
		ctype := contentTypeProtobuf
		if isJSON {
			ctype = contentTypeJSON
		}
		err := partialSuccess(ctype, body)
		if isJSON {
			if err != nil && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrPartialSuccess) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var want coltracepb.ExportTraceServiceResponse
		if uerr := proto.Unmarshal(body, &want); uerr != nil {
			if len(body) > 0 && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("proto.Unmarshal fails (%v), partialSuccess: %v", uerr, err)
			}
			return
		}
		p := want.GetPartialSuccess()
		var pe *PartialSuccessError
		switch {
		case p.GetRejectedSpans() == 0 && p.GetErrorMessage() == "":
			if err != nil {
				t.Fatalf("no partial success, got %v", err)
			}
		case !errors.As(err, &pe) || pe.RejectedSpans != p.GetRejectedSpans() || pe.Message != p.GetErrorMessage():
			t.Fatalf("got %v, want %d %q", err, p.GetRejectedSpans(), p.GetErrorMessage())
		}
	})
}

// FuzzParseHeaders: the header list parser never panics, accepts only valid names
// and values, and reads back what it is given in its own syntax.
func FuzzParseHeaders(f *testing.F) {
	f.Add("a=b,c=d%20e")
	f.Add(" k = v ,, =x")
	f.Add("a=%zz")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHeaders(s)
		if err != nil {
			return
		}
		var list []string
		for k, v := range h {
			if !validHeaderKey(k) || !validHeaderValue(v) {
				t.Fatalf("accepted %q: %q", k, v)
			}
			list = append(list, k+"="+strings.ReplaceAll(url.PathEscape(v), ",", "%2C"))
		}
		h2, err := parseHeaders(strings.Join(list, ","))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(h2) != len(h) {
			t.Fatalf("re-parse: %v, want %v", h2, h)
		}
		for k, v := range h {
			if h2[k] != v {
				t.Fatalf("re-parse: %v, want %v", h2, h)
			}
		}
	})
}

// FuzzRetryAfter: parsing Retry-After never panics nor returns a negative delay.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("-5")
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, time.Unix(1_700_000_000, 0)); d < 0 {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}
