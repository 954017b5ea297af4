package otlphttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// Defaults, as the SDK's otlptracehttp exporter has them.
const (
	// DefaultEndpoint is where spans go when neither an option nor the environment
	// says otherwise.
	DefaultEndpoint = "http://localhost:4318/v1/traces"
	// DefaultTimeout bounds one Export call, retries included.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxRequestSize bounds an encoded request, before compression.
	DefaultMaxRequestSize = 64 << 20
	// DefaultMaxResponseSize bounds the response body read.
	DefaultMaxResponseSize = 4 << 20
)

// defaultTracesPath is appended to OTEL_EXPORTER_OTLP_ENDPOINT.
const defaultTracesPath = "/v1/traces"

// Environment variables read by New; the OTEL_EXPORTER_OTLP_TRACES_ variant of each
// wins over the general one.
const (
	envPrefix       = "OTEL_EXPORTER_OTLP_"
	envTracesPrefix = "OTEL_EXPORTER_OTLP_TRACES_"
)

// Compression is the content encoding of request bodies.
type Compression int

const (
	// NoCompression sends bodies as they are.
	NoCompression Compression = iota
	// GzipCompression sends bodies gzip-compressed (Content-Encoding: gzip).
	GzipCompression
)

// String returns the name OTEL_EXPORTER_OTLP_COMPRESSION uses for c.
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case GzipCompression:
		return "gzip"
	default:
		return "Compression(" + strconv.Itoa(int(c)) + ")"
	}
}

// RetryConfig is the retry policy for throttled or unavailable collectors (HTTP 429,
// 502, 503, 504 and temporary network errors): exponential backoff with jitter, as
// the SDK exporter's. The Export call's timeout and context bound it too.
type RetryConfig struct {
	// Enabled turns retries on.
	Enabled bool
	// InitialInterval is the wait after the first failure (before jitter of ±50 %).
	InitialInterval time.Duration
	// MaxInterval caps the growing interval (×1.5 per retry).
	MaxInterval time.Duration
	// MaxElapsedTime stops retrying once this long has passed since the first
	// attempt; 0 means only the timeout and context bound retries.
	MaxElapsedTime time.Duration
}

// DefaultRetryConfig is the SDK exporter's retry policy.
var DefaultRetryConfig = RetryConfig{
	Enabled:         true,
	InitialInterval: 5 * time.Second,
	MaxInterval:     30 * time.Second,
	MaxElapsedTime:  time.Minute,
}

// config is what New builds the Exporter from.
type config struct {
	endpoint        *url.URL
	headers         map[string]string
	timeout         time.Duration
	compression     Compression
	tlsConfig       *tls.Config
	client          *http.Client
	retry           RetryConfig
	maxRequestSize  int
	maxResponseSize int64
	err             error // the first invalid option
}

// Option configures New; options override the environment.
type Option func(*config)

// invalid records the first configuration error.
func (c *config) invalid(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
}

// WithEndpointURL sets the full URL spans are posted to, e.g.
// "https://collector:4318/v1/traces" (used as is: no path is appended; an empty path
// is "/"). The scheme must be http or https.
func WithEndpointURL(rawURL string) Option {
	return func(c *config) {
		u, err := parseEndpoint(rawURL)
		if err != nil {
			c.invalid("endpoint URL %q: %v", rawURL, err)
			return
		}
		c.endpoint = u
	}
}

// WithHeaders sets the headers sent with every request, replacing those of the
// environment.
func WithHeaders(h map[string]string) Option {
	return func(c *config) {
		m := make(map[string]string, len(h))
		for k, v := range h {
			if !validHeaderKey(k) || !validHeaderValue(v) {
				c.invalid("header %q: %q", k, v)
				return
			}
			m[k] = v
		}
		c.headers = m
	}
}

// WithTimeout bounds each Export call, retries included; 0 means no bound other than
// the context's.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.invalid("negative timeout %v", d)
			return
		}
		c.timeout = d
	}
}

// WithCompression sets the request body encoding.
func WithCompression(comp Compression) Option {
	return func(c *config) {
		if comp != NoCompression && comp != GzipCompression {
			c.invalid("compression %v", comp)
			return
		}
		c.compression = comp
	}
}

// WithHTTPClient makes the exporter post with client (its transport, TLS and
// timeout) instead of one it builds; TLS settings of the environment and
// WithTLSClientConfig are then ignored.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) {
		if client == nil {
			c.invalid("nil *http.Client")
			return
		}
		c.client = client
	}
}

// WithTLSClientConfig sets the TLS configuration of https endpoints, replacing the
// certificates of the environment.
func WithTLSClientConfig(cfg *tls.Config) Option {
	return func(c *config) {
		c.tlsConfig = cfg.Clone()
	}
}

// WithRetry sets the retry policy (default DefaultRetryConfig).
func WithRetry(rc RetryConfig) Option {
	return func(c *config) {
		if rc.Enabled && (rc.InitialInterval <= 0 || rc.MaxInterval <= 0 || rc.MaxElapsedTime < 0) {
			c.invalid("retry intervals %v/%v/%v", rc.InitialInterval, rc.MaxInterval, rc.MaxElapsedTime)
			return
		}
		c.retry = rc
	}
}

// WithMaxRequestSize bounds an encoded request (before compression); Export fails
// with ErrRequestTooLarge beyond it.
func WithMaxRequestSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.invalid("max request size %d", n)
			return
		}
		c.maxRequestSize = n
	}
}

// WithMaxResponseSize bounds the response body read.
func WithMaxResponseSize(n int64) Option {
	return func(c *config) {
		if n <= 0 {
			c.invalid("max response size %d", n)
			return
		}
		c.maxResponseSize = n
	}
}

// getenv returns the trimmed value of OTEL_EXPORTER_OTLP_TRACES_<name>, else of
// OTEL_EXPORTER_OTLP_<name>, and the variable it came from.
func getenv(name string) (value, variable string) {
	if v := strings.TrimSpace(os.Getenv(envTracesPrefix + name)); v != "" {
		return v, envTracesPrefix + name
	}
	if v := strings.TrimSpace(os.Getenv(envPrefix + name)); v != "" {
		return v, envPrefix + name
	}
	return "", ""
}

// newConfig reads the environment, then applies opts.
func newConfig(opts []Option) (*config, error) {
	c := &config{
		timeout:         DefaultTimeout,
		retry:           DefaultRetryConfig,
		maxRequestSize:  DefaultMaxRequestSize,
		maxResponseSize: DefaultMaxResponseSize,
	}
	c.endpoint, _ = url.Parse(DefaultEndpoint)
	c.readEnv()
	for _, o := range opts {
		o(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// readEnv applies the OTEL_EXPORTER_OTLP_* variables to c.
func (c *config) readEnv() {
	if v := strings.TrimSpace(os.Getenv(envTracesPrefix + "ENDPOINT")); v != "" {
		u, err := parseEndpoint(v)
		if err != nil {
			c.invalid("%sENDPOINT=%q: %v", envTracesPrefix, v, err)
		} else {
			c.endpoint = u
		}
	} else if v := strings.TrimSpace(os.Getenv(envPrefix + "ENDPOINT")); v != "" {
		u, err := parseEndpoint(v)
		if err != nil {
			c.invalid("%sENDPOINT=%q: %v", envPrefix, v, err)
		} else {
			// A base URL: the signal's path goes under its path.
			u.Path = path.Join(u.Path, defaultTracesPath)
			u.RawPath = ""
			c.endpoint = u
		}
	}
	if v, name := getenv("HEADERS"); v != "" {
		h, err := parseHeaders(v)
		if err != nil {
			c.invalid("%s: %v", name, err)
		} else {
			c.headers = h
		}
	}
	if v, name := getenv("TIMEOUT"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 || ms > int64(time.Duration(math63)/time.Millisecond) {
			c.invalid("%s=%q: not a number of milliseconds", name, v)
		} else {
			c.timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if v, name := getenv("COMPRESSION"); v != "" {
		switch strings.ToLower(v) {
		case "gzip":
			c.compression = GzipCompression
		case "none":
			c.compression = NoCompression
		default:
			c.invalid("%s=%q: want gzip or none", name, v)
		}
	}
	c.readTLSEnv()
}

// math63 is the largest time.Duration.
const math63 = 1<<63 - 1

// readTLSEnv applies the certificate variables: a CA bundle, and a client
// certificate and key (both from the same variant of the variables).
func (c *config) readTLSEnv() {
	var tc *tls.Config
	if file, name := getenv("CERTIFICATE"); file != "" {
		pem, err := os.ReadFile(file) // #nosec G304 G703 -- the operator names the file
		if err != nil {
			c.invalid("%s: %v", name, err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			c.invalid("%s=%q: no PEM certificate", name, file)
			return
		}
		tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	prefix := envTracesPrefix
	certFile := strings.TrimSpace(os.Getenv(prefix + "CLIENT_CERTIFICATE"))
	keyFile := strings.TrimSpace(os.Getenv(prefix + "CLIENT_KEY"))
	if certFile == "" && keyFile == "" {
		prefix = envPrefix
		certFile = strings.TrimSpace(os.Getenv(prefix + "CLIENT_CERTIFICATE"))
		keyFile = strings.TrimSpace(os.Getenv(prefix + "CLIENT_KEY"))
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		c.invalid("%sCLIENT_CERTIFICATE and %sCLIENT_KEY must be set together", prefix, prefix)
		return
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			c.invalid("%sCLIENT_CERTIFICATE/%sCLIENT_KEY: %v", prefix, prefix, err)
			return
		}
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if tc != nil {
		c.tlsConfig = tc
	}
}

// parseEndpoint parses an endpoint URL: http or https, with a host; an empty path
// is "/".
func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return nil, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	if u.Path == "" {
		u.Path = "/"
		u.RawPath = ""
	}
	return u, nil
}

// parseHeaders parses the W3C-baggage-like list of OTEL_EXPORTER_OTLP_HEADERS:
// comma-separated key=value pairs, keys HTTP tokens, values URL-decoded, both
// trimmed. Empty list members are skipped.
func parseHeaders(s string) (map[string]string, error) {
	h := make(map[string]string)
	for member := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, v, ok := strings.Cut(member, "=")
		if !ok {
			return nil, fmt.Errorf("%q has no '='", member)
		}
		k = strings.TrimSpace(k)
		if !validHeaderKey(k) {
			return nil, fmt.Errorf("invalid header name %q", k)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", k, err)
		}
		dv = strings.TrimSpace(dv)
		if !validHeaderValue(dv) {
			return nil, fmt.Errorf("header %q: invalid value %q", k, dv)
		}
		h[k] = dv
	}
	return h, nil
}

// validHeaderKey reports whether k is an HTTP token (RFC 9110).
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be an HTTP field value: no control
// character other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if ch := v[i]; (ch < ' ' && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}
