package telemetry

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute sets are built once, when the instruments are created, so that recording a
// measurement neither builds a set nor allocates an option slice.

func addOpts(kvs ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func recordOpts(kvs ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

// builder creates instruments from their descriptions and collects the errors, so that
// a constructor reads as the list of its instruments.
type builder struct {
	meter metric.Meter
	errs  []error
}

func (b *builder) keep(err error) {
	if err != nil {
		b.errs = append(b.errs, err)
	}
}

func (b *builder) counter(i Instrument) metric.Int64Counter {
	c, err := b.meter.Int64Counter(i.Name, metric.WithUnit(i.Unit), metric.WithDescription(i.Description))
	b.keep(err)
	return c
}

func (b *builder) upDownCounter(i Instrument) metric.Int64UpDownCounter {
	c, err := b.meter.Int64UpDownCounter(i.Name, metric.WithUnit(i.Unit), metric.WithDescription(i.Description))
	b.keep(err)
	return c
}

func (b *builder) histogram(i Instrument) metric.Float64Histogram {
	h, err := b.meter.Float64Histogram(i.Name, metric.WithUnit(i.Unit), metric.WithDescription(i.Description),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	b.keep(err)
	return h
}

func (b *builder) gauge(i Instrument) metric.Int64ObservableGauge {
	g, err := b.meter.Int64ObservableGauge(i.Name, metric.WithUnit(i.Unit), metric.WithDescription(i.Description))
	b.keep(err)
	return g
}

func (b *builder) observableUpDownCounter(i Instrument) metric.Int64ObservableUpDownCounter {
	c, err := b.meter.Int64ObservableUpDownCounter(i.Name, metric.WithUnit(i.Unit), metric.WithDescription(i.Description))
	b.keep(err)
	return c
}

// seconds converts d to the float seconds OpenTelemetry's duration histograms record.
func seconds(d time.Duration) float64 { return d.Seconds() }

// clampInt64 converts a Raft index or term to the int64 an Int64 gauge observes.
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// outcomeIndex maps the outcomes to small indexes for precomputed option tables.
const numOutcomes = 4

var outcomes = [numOutcomes]Outcome{OutcomeApplied, OutcomeCached, OutcomeOK, OutcomeError}

func outcomeIndex(o Outcome) int {
	for i, v := range outcomes {
		if v == o {
			return i
		}
	}
	return -1
}
