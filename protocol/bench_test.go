package protocol_test

import (
	"bytes"
	"testing"

	"github.com/zraft/zraft/protocol"
)

var benchPayload = bytes.Repeat([]byte{0xab}, 100)

var (
	benchClientRequest = &protocol.ClientRequest{RequestID: 1 << 20, LowestPendingRequestID: 1<<20 - 5, Payload: benchPayload, CreatedAt: fxTimestamp}
	benchServerRequest = &protocol.ServerRequest{RequestID: 1 << 20, Payload: benchPayload, CreatedAt: fxTimestamp}
	benchTraced        = &protocol.ClientRequest{RequestID: 1 << 20, LowestPendingRequestID: 1<<20 - 5, Payload: benchPayload, CreatedAt: fxTimestamp,
		Ext: &protocol.Extensions{TraceParent: fxTraceParent}}
)

func BenchmarkAppendClientRequest(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = protocol.AppendClientMessage(buf[:0], benchClientRequest); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeClientRequest(b *testing.B) {
	msg, _ := protocol.AppendClientMessage(nil, benchClientRequest)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeClientMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendServerRequest(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = protocol.AppendServerMessage(buf[:0], benchServerRequest); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeServerRequest(b *testing.B) {
	msg, _ := protocol.AppendServerMessage(nil, benchServerRequest)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeServerMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// The traced variants show what a traceparent extension costs on top.

func BenchmarkAppendClientRequestTraced(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = protocol.AppendClientMessage(buf[:0], benchTraced); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeClientRequestTraced(b *testing.B) {
	msg, _ := protocol.AppendClientMessage(nil, benchTraced)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeClientMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeDoesNotAllocate and TestDecodeAllocatesOnce hold the benchmarks' allocation
// targets in the normal test run, where a regression fails CI.
func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = protocol.AppendClientMessage(buf[:0], benchClientRequest)
		buf, _ = protocol.AppendServerMessage(buf[:0], benchServerRequest)
		buf, _ = protocol.AppendClientMessage(buf[:0], benchTraced)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func TestDecodeAllocatesOnce(t *testing.T) {
	c, _ := protocol.AppendClientMessage(nil, benchClientRequest)
	s, _ := protocol.AppendServerMessage(nil, benchServerRequest)
	if a := testing.AllocsPerRun(100, func() { _, _ = protocol.DecodeClientMessage(c) }); a > 1 {
		t.Errorf("ClientRequest: %v allocations", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = protocol.DecodeServerMessage(s) }); a > 1 {
		t.Errorf("ServerRequest: %v allocations", a)
	}
}
