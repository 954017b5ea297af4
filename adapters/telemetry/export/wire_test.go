package export_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

// encodeRequest encodes a ClientRequest carrying ctx's trace context, as a client would.
func encodeRequest(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	req := &protocol.ClientRequest{RequestID: 1, LowestPendingRequestID: 1, Payload: []byte("S"), CreatedAt: 1}
	req.Ext = telemetry.WithTraceContext(ctx, req.Ext)
	b, err := protocol.AppendClientMessage(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeRequest(t *testing.T, b []byte) *protocol.ClientRequest {
	t.Helper()
	m, err := protocol.DecodeClientMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*protocol.ClientRequest)
}

func attrString(kvs []attribute.KeyValue) string {
	s := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		s = append(s, string(kv.Key)+"="+kv.Value.String())
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
