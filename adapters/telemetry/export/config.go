package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/zraft/zraft/adapters/telemetry/spanrec"
)

// Exporter names, as OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER spell them.
const (
	ExporterNone       = "none"
	ExporterOTLP       = "otlp"
	ExporterConsole    = "console"
	ExporterPrometheus = "prometheus" // metrics only
)

// OTLP transport protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// Sentinel errors of Setup; test with errors.Is.
var (
	// ErrUnknownExporter: an exporter name that is not one of the Exporter constants, or
	// that the signal does not support (prometheus for traces), or "none" listed with others.
	ErrUnknownExporter = errors.New("export: unknown exporter")
	// ErrUnsupportedProtocol: an OTLP protocol other than grpc and http/protobuf.
	ErrUnsupportedProtocol = errors.New("export: unsupported OTLP protocol")
	// ErrInvalidEnv: an OTEL_* variable this package reads holds a value it cannot parse.
	ErrInvalidEnv = errors.New("export: invalid environment variable")
)

// Config says what to export. Everything left zero is read from the standard OTEL_*
// environment variables, and with those unset too nothing is exported: Setup returns
// no-op providers that start no goroutine.
type Config struct {
	// ServiceName is the resource's service.name unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES set it; default "zraft".
	ServiceName string
	// ServiceVersion is service.version unless the environment sets it.
	ServiceVersion string
	// InstanceID is service.instance.id (zraftd: the member id) unless the environment
	// sets it.
	InstanceID string

	// Traces lists the trace exporters, comma-separated ("otlp", "console", "none"),
	// overriding OTEL_TRACES_EXPORTER. Empty: the variable decides; unset, "none".
	Traces string
	// Metrics lists the metric exporters ("otlp", "console", "prometheus", "none"),
	// overriding OTEL_METRICS_EXPORTER. Empty: the variable decides; unset, "none".
	Metrics string
	// Prometheus adds the Prometheus exporter to the metric exporters (zraftd sets it
	// when it serves the admin /metrics endpoint).
	Prometheus bool
	// Console adds the console (stdout) exporter to both signals, for debugging.
	Console bool
	// ConsoleWriter is where the console exporters write; default os.Stdout.
	ConsoleWriter io.Writer

	// SpanExporters receive the spans too, and turn tracing on whatever the exporters
	// named above; tests pass tracetest.NewInMemoryExporter() here. Spans reach them in
	// batches (OTEL_BSP_*): call Provider.ForceFlush before reading an in-memory one.
	// An exporter that also implements spanrec.FastExporter is called through it.
	SpanExporters []sdktrace.SpanExporter
	// MetricReaders are added to the meter provider and turn metrics on, e.g. an
	// sdkmetric.ManualReader in tests.
	MetricReaders []sdkmetric.Reader
	// Sampler overrides OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default
	// parentbased_always_on).
	Sampler sdktrace.Sampler
}

// env names read by this package itself; the SDK and the exporters read the others.
const (
	envSDKDisabled         = "OTEL_SDK_DISABLED"
	envTracesExporter      = "OTEL_TRACES_EXPORTER"
	envMetricsExporter     = "OTEL_METRICS_EXPORTER"
	envOTLPProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envOTLPTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envOTLPMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	envTracesSampler       = "OTEL_TRACES_SAMPLER"
	envTracesSamplerArg    = "OTEL_TRACES_SAMPLER_ARG"
	envBSPScheduleDelay    = "OTEL_BSP_SCHEDULE_DELAY"
	envBSPExportTimeout    = "OTEL_BSP_EXPORT_TIMEOUT"
	envBSPMaxQueueSize     = "OTEL_BSP_MAX_QUEUE_SIZE"
	envBSPMaxExportBatch   = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
)

// samplerFromEnv is the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name,
// as the specification defines them; default parentbased_always_on. A sampler this
// package does not know (jaeger_remote, xray, …) or a bad ratio is an ErrInvalidEnv:
// better a member that refuses to start than one that samples otherwise than asked.
func samplerFromEnv() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv(envTracesSampler)))
	ratio := func() (float64, error) {
		arg := strings.TrimSpace(os.Getenv(envTracesSamplerArg))
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("%w: %s=%q is not a ratio between 0 and 1", ErrInvalidEnv, envTracesSamplerArg, arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("%w: %s=%q (want always_on, always_off, traceidratio or their parentbased_ forms)",
		ErrInvalidEnv, envTracesSampler, name)
}

// batchFromEnv reads the batching variables (OTEL_BSP_*; times in milliseconds) into
// the span recorder's options; unset ones keep its defaults, the specification's.
func batchFromEnv() (spanrec.Options, error) {
	var o spanrec.Options
	for _, v := range []struct {
		key string
		set func(int)
	}{
		{envBSPScheduleDelay, func(n int) { o.ScheduleDelay = time.Duration(n) * time.Millisecond }},
		{envBSPExportTimeout, func(n int) { o.ExportTimeout = time.Duration(n) * time.Millisecond }},
		{envBSPMaxQueueSize, func(n int) { o.MaxQueueSize = n }},
		{envBSPMaxExportBatch, func(n int) { o.MaxExportBatchSize = n }},
	} {
		s := strings.TrimSpace(os.Getenv(v.key))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("%w: %s=%q is not a positive integer", ErrInvalidEnv, v.key, s)
		}
		v.set(n)
	}
	return o, nil
}

// sdkDisabled reports OTEL_SDK_DISABLED, which the Go SDK does not read itself. As the
// specification says, only "true" (any case) disables; any other value but "false" is
// reported to the OpenTelemetry error handler, like the SDK's own bad variables.
func sdkDisabled() bool {
	v := strings.TrimSpace(os.Getenv(envSDKDisabled))
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case v != "" && !strings.EqualFold(v, "false"):
		otel.Handle(fmt.Errorf("%w: %s=%q is neither true nor false; telemetry stays as configured",
			ErrInvalidEnv, envSDKDisabled, v))
	}
	return false
}

// exporters resolves one signal's exporter list: configured, else from env, plus the
// extra ones the Config flags add. An empty result means the signal exports nothing.
func exporters(configured, envKey string, allowed []string, extra ...string) ([]string, error) {
	list, source := configured, "Config"
	if strings.TrimSpace(list) == "" {
		list, source = os.Getenv(envKey), envKey
	}
	var out []string
	none := false
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "":
		case name == ExporterNone:
			none = true
		case slices.Contains(allowed, name):
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		default:
			return nil, fmt.Errorf("%w: %q in %s (want one of %s, %s)", ErrUnknownExporter, name, source,
				strings.Join(allowed, ", "), ExporterNone)
		}
	}
	if none && len(out) > 0 {
		return nil, fmt.Errorf("%w: %s=%q lists %s together with other exporters", ErrUnknownExporter, source, list, ExporterNone)
	}
	for _, name := range extra {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// otlpProtocol is the signal's OTLP protocol: the signal's variable, else the general
// one, else http/protobuf (the specification's default, which the exporters also assume).
func otlpProtocol(signalKey string) (string, error) {
	p := strings.TrimSpace(os.Getenv(signalKey))
	key := signalKey
	if p == "" {
		p, key = strings.TrimSpace(os.Getenv(envOTLPProtocol)), envOTLPProtocol
	}
	switch p {
	case "", ProtocolHTTPProtobuf:
		return ProtocolHTTPProtobuf, nil
	case ProtocolGRPC:
		return ProtocolGRPC, nil
	}
	return "", fmt.Errorf("%w: %s=%q (want %s or %s)", ErrUnsupportedProtocol, key, p, ProtocolGRPC, ProtocolHTTPProtobuf)
}

func consoleWriter(cfg Config) io.Writer {
	if cfg.ConsoleWriter != nil {
		return cfg.ConsoleWriter
	}
	return os.Stdout
}

func ifSet(b bool, name string) string {
	if b {
		return name
	}
	return ""
}
