package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
)

// Provider holds the tracer and meter providers Setup built, and what exports them.
// Its methods are safe for concurrent use.
type Provider struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	spans          *spanrec.Provider        // nil when tracing is off
	sdkMeter       *sdkmetric.MeterProvider // nil when metrics are off
	promRegistry   *prometheus.Registry     // nil without the Prometheus exporter

	shutdownOnce sync.Once
	shutdownErr  error
}

// Setup builds the providers cfg and the OTEL_* environment describe (see Config and
// docs/operations-telemetry.md). With nothing configured, or OTEL_SDK_DISABLED=true,
// both providers are no-ops and nothing runs in the background. Setup sets no global
// (otel.SetTracerProvider and friends are the caller's choice) and, on error, releases
// whatever it had started. Call Shutdown before the process exits to flush.
func Setup(ctx context.Context, cfg Config) (*Provider, error) {
	p := &Provider{tracerProvider: tracenoop.NewTracerProvider(), meterProvider: metricnoop.NewMeterProvider()}
	if sdkDisabled() {
		return p, nil
	}
	traceExporters, err := exporters(cfg.Traces, envTracesExporter,
		[]string{ExporterOTLP, ExporterConsole}, ifSet(cfg.Console, ExporterConsole))
	if err != nil {
		return nil, err
	}
	metricExporters, err := exporters(cfg.Metrics, envMetricsExporter,
		[]string{ExporterOTLP, ExporterConsole, ExporterPrometheus},
		ifSet(cfg.Console, ExporterConsole), ifSet(cfg.Prometheus, ExporterPrometheus))
	if err != nil {
		return nil, err
	}
	tracing := len(traceExporters) > 0 || len(cfg.SpanExporters) > 0
	metering := len(metricExporters) > 0 || len(cfg.MetricReaders) > 0
	if !tracing && !metering {
		return p, nil
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if tracing {
		if err := p.setupTraces(ctx, cfg, res, traceExporters); err != nil {
			return nil, errors.Join(err, p.Shutdown(ctx))
		}
	}
	if metering {
		if err := p.setupMetrics(ctx, cfg, res, metricExporters); err != nil {
			return nil, errors.Join(err, p.Shutdown(ctx))
		}
	}
	return p, nil
}

// newResource describes this process: the Config's values first, so that
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (read last) override them.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = "zraft"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	if cfg.InstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", cfg.InstanceID))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("%w: resource: %w", ErrInvalidEnv, err)
	}
	return res, nil
}

// setupTraces builds the lean span recorder (package spanrec) around the exporters:
// it records and exports zraft's spans at a fraction of the SDK provider's cost
// (docs/operations-telemetry.md, "Tracing cost").
func (p *Provider) setupTraces(ctx context.Context, cfg Config, res *resource.Resource, names []string) error {
	sampler := cfg.Sampler
	if sampler == nil {
		s, err := samplerFromEnv()
		if err != nil {
			return err
		}
		sampler = s
	}
	batch, err := batchFromEnv()
	if err != nil {
		return err
	}
	exps := slices.Clone(cfg.SpanExporters)
	for _, name := range names {
		exp, err := newSpanExporter(ctx, cfg, name)
		if err != nil {
			for _, made := range exps[len(cfg.SpanExporters):] {
				_ = made.Shutdown(ctx)
			}
			return err
		}
		exps = append(exps, exp)
	}
	batch.Resource, batch.Sampler, batch.Exporters = res, sampler, exps
	tp := spanrec.New(batch)
	p.spans, p.tracerProvider = tp, tp
	return nil
}

func newSpanExporter(ctx context.Context, cfg Config, name string) (sdktrace.SpanExporter, error) {
	switch name {
	case ExporterConsole:
		return stdouttrace.New(stdouttrace.WithWriter(consoleWriter(cfg)))
	case ExporterOTLP:
		proto, err := otlpProtocol(envOTLPTracesProtocol)
		if err != nil {
			return nil, err
		}
		if proto == ProtocolGRPC {
			return otlptracegrpc.New(ctx)
		}
		// Our own OTLP/HTTP exporter: it encodes the spans straight from the
		// recorder's memory, where the SDK's builds protocol buffer structs first.
		exp, err := otlphttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidEnv, err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("%w: %q for traces", ErrUnknownExporter, name)
}

func (p *Provider) setupMetrics(ctx context.Context, cfg Config, res *resource.Resource, names []string) error {
	var readers []sdkmetric.Reader
	for _, name := range names {
		r, err := p.newMetricReader(ctx, cfg, name)
		if err != nil {
			for _, made := range readers {
				_ = made.Shutdown(ctx)
			}
			return err
		}
		readers = append(readers, r)
	}
	readers = append(readers, cfg.MetricReaders...)
	opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	p.sdkMeter, p.meterProvider = mp, mp
	return nil
}

func (p *Provider) newMetricReader(ctx context.Context, cfg Config, name string) (sdkmetric.Reader, error) {
	switch name {
	case ExporterConsole:
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(consoleWriter(cfg)))
		if err != nil {
			return nil, err
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	case ExporterPrometheus:
		// An own registry: the exporter must not register into (or collide with)
		// prometheus.DefaultRegisterer of the embedding application.
		reg := prometheus.NewRegistry()
		r, err := otelprom.New(otelprom.WithRegisterer(reg),
			otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
		if err != nil {
			return nil, err
		}
		p.promRegistry = reg
		return r, nil
	case ExporterOTLP:
		proto, err := otlpProtocol(envOTLPMetricsProtocol)
		if err != nil {
			return nil, err
		}
		var exp sdkmetric.Exporter
		if proto == ProtocolGRPC {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			return nil, err
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	}
	return nil, fmt.Errorf("%w: %q for metrics", ErrUnknownExporter, name)
}

// TracerProvider returns the tracer provider: the SDK's when tracing is on, else a no-op.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tracerProvider }

// MeterProvider returns the meter provider: the SDK's when metrics are on, else a no-op.
func (p *Provider) MeterProvider() metric.MeterProvider { return p.meterProvider }

// Tracer returns the tracer of zraft's instrumentation scope (telemetry.ScopeName).
func (p *Provider) Tracer() trace.Tracer { return p.tracerProvider.Tracer(telemetry.ScopeName) }

// Meter returns the meter of zraft's instrumentation scope, to pass to
// telemetry.NewServerMetrics or telemetry.NewClientMetrics.
func (p *Provider) Meter() metric.Meter { return p.meterProvider.Meter(telemetry.ScopeName) }

// TracesEnabled reports whether spans are exported anywhere.
func (p *Provider) TracesEnabled() bool { return p.spans != nil }

// MetricsEnabled reports whether measurements are exported or served anywhere.
func (p *Provider) MetricsEnabled() bool { return p.sdkMeter != nil }

// PrometheusEnabled reports whether PrometheusHandler serves metrics.
func (p *Provider) PrometheusEnabled() bool { return p.promRegistry != nil }

// PrometheusHandler serves the metrics in the Prometheus text exposition format, for
// zraftd's admin /metrics. Without the Prometheus exporter (Config.Prometheus or
// OTEL_METRICS_EXPORTER=prometheus) it answers 404 and says why.
func (p *Provider) PrometheusHandler() http.Handler {
	if p.promRegistry == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics: the Prometheus exporter is off (set OTEL_METRICS_EXPORTER=prometheus)", http.StatusNotFound)
		})
	}
	return promhttp.HandlerFor(p.promRegistry, promhttp.HandlerOpts{})
}

// ForceFlush exports the spans and measurements buffered so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	var errs []error
	if p.spans != nil {
		errs = append(errs, p.spans.ForceFlush(ctx))
	}
	if p.sdkMeter != nil {
		errs = append(errs, p.sdkMeter.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown flushes what is buffered, stops the exporters and their goroutines, and
// returns the same result on every call. Spans and measurements after it are dropped
// by the SDK. ctx bounds how long the flush may take.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		var errs []error
		if p.spans != nil {
			errs = append(errs, p.spans.Shutdown(ctx))
		}
		if p.sdkMeter != nil {
			errs = append(errs, p.sdkMeter.Shutdown(ctx))
		}
		p.shutdownErr = errors.Join(errs...)
	})
	return p.shutdownErr
}
