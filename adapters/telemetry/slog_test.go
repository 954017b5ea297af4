package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

func jsonLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))), &buf
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogHandlerAddsTraceAndSpanIDs(t *testing.T) {
	tracer, _ := newTracer(t)
	ctx, span := tracer.Start(context.Background(), "op")
	defer span.End()
	log, buf := jsonLogger()

	log.InfoContext(ctx, "with span", "k", 1)
	log.Info("without context")
	log.InfoContext(context.Background(), "without span")
	log.With("member", "m1").InfoContext(ctx, "with attrs")

	got := lines(t, buf)
	if len(got) != 4 {
		t.Fatalf("%d records", len(got))
	}
	sc := span.SpanContext()
	for _, i := range []int{0, 3} {
		if got[i][telemetry.LogKeyTraceID] != sc.TraceID().String() || got[i][telemetry.LogKeySpanID] != sc.SpanID().String() {
			t.Errorf("record %d: %v lacks trace %s span %s", i, got[i], sc.TraceID(), sc.SpanID())
		}
	}
	if got[0]["k"] != float64(1) || got[3]["member"] != "m1" {
		t.Errorf("other attributes lost: %v", got)
	}
	for _, i := range []int{1, 2} {
		if _, ok := got[i][telemetry.LogKeyTraceID]; ok {
			t.Errorf("record %d without a span has a trace id: %v", i, got[i])
		}
		if _, ok := got[i][telemetry.LogKeySpanID]; ok {
			t.Errorf("record %d without a span has a span id: %v", i, got[i])
		}
	}
}

// A member logs under the client's trace as soon as it extracted the context, before
// starting a span of its own.
func TestLogHandlerUsesRemoteSpanContext(t *testing.T) {
	ctx := telemetry.Extract(context.Background(), &protocol.Extensions{
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	log, buf := jsonLogger()
	log.WarnContext(ctx, "remote")
	got := lines(t, buf)[0]
	if got[telemetry.LogKeyTraceID] != "0af7651916cd43dd8448eb211c80319c" || got[telemetry.LogKeySpanID] != "b7ad6b7169203331" {
		t.Fatalf("%v", got)
	}
}

func TestLogHandlerGroupsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	h := telemetry.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if telemetry.NewLogHandler(h) != h {
		t.Error("wrapping twice adds a second layer")
	}
	log := slog.New(h)
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}))
	log.InfoContext(ctx, "below level")
	if buf.Len() != 0 {
		t.Fatalf("Enabled not passed through: %s", buf.String())
	}
	log.WithGroup("g").WarnContext(ctx, "grouped", "a", 1)
	got := lines(t, &buf)[0]
	g, _ := got["g"].(map[string]any)
	if g == nil || g["a"] != float64(1) || g[telemetry.LogKeyTraceID] != (trace.TraceID{1}).String() {
		t.Fatalf("%v", got)
	}
}

// A record passed to several handlers is not changed by this one.
func TestLogHandlerDoesNotModifyTheCallersRecord(t *testing.T) {
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}))
	var buf bytes.Buffer
	h := telemetry.NewLogHandler(slog.NewTextHandler(&buf, nil))
	r := slog.NewRecord(testTime, slog.LevelInfo, "m", 0)
	for i := range 10 { // one by one, so that the record's overflow slice has spare room
		r.AddAttrs(slog.Int(string(rune('a'+i)), i))
	}
	for range 2 { // without a clone, slog marks the second pass's output with "!BUG"
		if err := h.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	r.AddAttrs(slog.Int("z", 9))
	if r.NumAttrs() != 11 {
		t.Fatalf("record now has %d attributes", r.NumAttrs())
	}
	if strings.Count(buf.String(), "trace_id=") != 2 || strings.Contains(buf.String(), "BUG") {
		t.Fatal(buf.String())
	}
	var after bytes.Buffer
	if err := slog.NewTextHandler(&after, nil).Handle(ctx, r); err != nil || strings.Contains(after.String(), "BUG") {
		t.Fatalf("%v %s", err, after.String())
	}
}

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
