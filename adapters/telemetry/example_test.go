package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

// A client puts its span's context on a command; the member continues the trace.
func ExampleWithTraceContext() {
	clientCtx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19},
		SpanID:     trace.SpanID{0xb7, 0xad},
		TraceFlags: trace.FlagsSampled,
	}))
	req := &protocol.ClientRequest{RequestID: 1, LowestPendingRequestID: 1, Payload: []byte("S"), CreatedAt: 1}
	req.Ext = telemetry.WithTraceContext(clientCtx, req.Ext) // only on sessions that negotiated extensions
	fmt.Println(req.Ext.TraceParent)

	memberCtx := telemetry.Extract(context.Background(), req.Ext)
	fmt.Println(trace.SpanContextFromContext(memberCtx).TraceID())
	// Output:
	// 00-0af76519000000000000000000000000-b7ad000000000000-01
	// 0af76519000000000000000000000000
}

// Logs carry the trace they belong to.
func ExampleNewLogHandler() {
	logger := slog.New(telemetry.NewLogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	})))
	ctx := telemetry.Extract(context.Background(), &protocol.Extensions{
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	logger.InfoContext(ctx, "command applied", "request", 7)
	// Output:
	// level=INFO msg="command applied" request=7 trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331
}
