package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys NewLogHandler adds.
const (
	LogKeyTraceID = "trace_id"
	LogKeySpanID  = "span_id"
)

// NewLogHandler returns a slog.Handler that passes records to next, adding trace_id and
// span_id (lower-case hex, as in W3C traceparent) when the record's context carries a
// valid span context: log with slog.InfoContext(ctx, …) and friends. A remote span
// context extracted from a message counts too, so a member's logs join the client's trace
// before its own span starts. Records logged without a context, or with one without a
// span, pass through unchanged.
//
// The attributes are added to the record, so after WithGroup they sit inside the
// group, like every attribute of that record.
func NewLogHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*logHandler); ok {
		return h
	}
	return &logHandler{next: next}
}

type logHandler struct{ next slog.Handler }

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(
				slog.String(LogKeyTraceID, sc.TraceID().String()),
				slog.String(LogKeySpanID, sc.SpanID().String()),
			)
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(attrs)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name)}
}
