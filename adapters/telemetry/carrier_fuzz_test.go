package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

// FuzzExtract feeds arbitrary traceparent/tracestate values, as a hostile peer could put
// them in an extension block. Extract must not panic; whatever it accepts must be a valid
// span context that Inject writes back to a traceparent Extract reads identically.
func FuzzExtract(f *testing.F) {
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE")
	f.Add("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-future", "a=b,c=d")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00", "")
	f.Add("", "a=b")
	f.Add("zz-", "=,=")
	f.Fuzz(func(t *testing.T, tp, ts string) {
		ctx := telemetry.Extract(context.Background(), &protocol.Extensions{TraceParent: tp, TraceState: ts})
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return
		}
		if !sc.IsRemote() {
			t.Fatal("extracted span context is not remote")
		}
		var e protocol.Extensions
		telemetry.Inject(trace.ContextWithSpanContext(context.Background(), sc), &e)
		again := trace.SpanContextFromContext(telemetry.Extract(context.Background(), &e))
		if again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() ||
			again.TraceFlags() != sc.TraceFlags() || again.TraceState().String() != sc.TraceState().String() {
			t.Fatalf("re-injection changed %v into %v", sc, again)
		}
	})
}
