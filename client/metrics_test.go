package client

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/zraft/zraft/client/internal/testserver"
)

// meterRec is a minimal MeterProvider that sums what the client records, by instrument
// name and attribute set.
type meterRec struct {
	noop.MeterProvider
	mu   sync.Mutex
	sums map[string]float64
}

type recMeter struct {
	noop.Meter
	r *meterRec
}

type recCounter struct {
	noop.Int64Counter
	r    *meterRec
	name string
}

type recHistogram struct {
	noop.Float64Histogram
	r    *meterRec
	name string
}

func (r *meterRec) Meter(string, ...metric.MeterOption) metric.Meter { return recMeter{r: r} }

func (m recMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return recCounter{r: m.r, name: name}, nil
}

func (m recMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return recHistogram{r: m.r, name: name}, nil
}

func (r *meterRec) add(name string, attrs metric.MeasurementOption, v float64) {
	key := name
	if attrs != nil {
		set := metric.NewAddConfig([]metric.AddOption{attrs.(metric.AddOption)}).Attributes()
		key += "{" + set.Encoded(attribute.DefaultEncoder()) + "}"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sums[key] += v
}

func (c recCounter) Add(_ context.Context, v int64, opts ...metric.AddOption) {
	var o metric.MeasurementOption
	if len(opts) > 0 {
		o = opts[0].(metric.MeasurementOption)
	}
	c.r.add(c.name, o, float64(v))
}

func (h recHistogram) Record(_ context.Context, _ float64, opts ...metric.RecordOption) {
	var o metric.MeasurementOption
	if len(opts) > 0 {
		o = opts[0].(metric.MeasurementOption)
	}
	h.r.add(h.name+".count", o, 1)
}

func (r *meterRec) get(key string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sums[key]
}

func TestMeterProviderRecords(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 2})
	cl.SetLeader(1) // one NotLeader redirect
	rec := &meterRec{sums: map[string]float64{}}
	c := dial(t, cl.Endpoints(), WithMeterProvider(rec))
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.Submit(ctx, set(t, "k", "v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Query(ctx, get(t, "k")); err != nil {
		t.Fatal(err)
	}
	cl.Push(status(t, c).SessionID, []byte("x"))
	<-c.ServerRequests()
	_ = c.Close(ctx)
	_, _ = c.Submit(ctx, set(t, "k", "v")) // fails: closed
	for key, want := range map[string]float64{
		"zraft.client.commands{zraft.outcome=ok}":                                         3,
		"zraft.client.commands{zraft.outcome=error}":                                      1,
		"zraft.client.queries{zraft.outcome=ok}":                                          1,
		"zraft.client.roundtrip.duration.count{zraft.operation=command,zraft.outcome=ok}": 3,
		"zraft.client.roundtrip.duration.count{zraft.operation=query,zraft.outcome=ok}":   1,
	} {
		if got := rec.get(key); got != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got, want, rec.sums)
		}
	}
	// At least: a timed-out attempt on a loaded machine adds connects and redirects,
	// and a redelivery racing the acknowledgement adds a server request.
	for _, key := range []string{"zraft.client.redirects", "zraft.client.server_requests"} {
		if rec.get(key) < 1 {
			t.Errorf("%s not recorded: %v", key, rec.sums)
		}
	}
	if rec.get("zraft.client.connects") < 2 {
		t.Errorf("connects: %v", rec.sums)
	}
}
