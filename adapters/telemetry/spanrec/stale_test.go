package spanrec

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestStaleHandle keeps a span after End until its record serves another span, then
// uses the old handle: the new span must not change, the old one stays ended with its
// own span context.
func TestStaleHandle(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := New(Options{Exporters: []sdktrace.SpanExporter{exp}})
	defer func() { _ = p.Shutdown(context.Background()) }()
	tr := p.Tracer("t")
	for attempt := 0; ; attempt++ {
		_, a := tr.Start(context.Background(), "a")
		old := a.(*span)
		a.End()
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, b := tr.Start(context.Background(), "b")
		if b.(*span).rec != old.rec {
			b.End()
			if attempt > 100 {
				t.Fatal("the record was never reused")
			}
			continue
		}
		a.SetAttributes(attribute.Int("stale", 1))
		a.AddEvent("stale")
		a.SetName("stale")
		a.End()
		if a.IsRecording() || !b.IsRecording() {
			t.Fatalf("recording: old %v, new %v", a.IsRecording(), b.IsRecording())
		}
		if a.SpanContext().Equal(b.SpanContext()) || !a.SpanContext().Equal(old.sc) {
			t.Fatal("the old handle's span context changed")
		}
		b.End()
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := exp.GetSpans()
		last := got[len(got)-1]
		if last.Name != "b" || len(last.Attributes) != 0 || len(last.Events) != 0 {
			t.Fatalf("the new span was changed through the old handle: %+v", last)
		}
		// The exported "a" kept its own data although its record was reused.
		if got[len(got)-2].Name != "a" {
			t.Fatalf("spans %v", got)
		}
		return
	}
}
