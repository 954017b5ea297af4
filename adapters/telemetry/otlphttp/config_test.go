package otlphttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		opts        []Option
		endpoint    string
		headers     map[string]string
		timeout     time.Duration
		compression Compression
		invalid     bool
	}{
		{name: "defaults", endpoint: "http://localhost:4318/v1/traces", timeout: 10 * time.Second},
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318"},
			endpoint: "https://collector:4318/v1/traces"},
		{name: "base endpoint with path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/otlp/"},
			endpoint: "http://c:4318/otlp/v1/traces"},
		{name: "traces endpoint as is", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9/custom?x=1"},
			endpoint: "http://c:9/custom?x=1"},
		{name: "traces endpoint without path", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9"},
			endpoint: "http://c:9/"},
		{name: "traces endpoint wins", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:2/t"},
			endpoint: "http://traces:2/t"},
		{name: "option wins", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:2/t"},
			opts: []Option{WithEndpointURL("https://opt:3/o")}, endpoint: "https://opt:3/o"},
		{name: "headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": " api-key = a%20b%2Cc ,x=1,, y= "},
			headers: map[string]string{"api-key": "a b,c", "x": "1", "y": ""}},
		{name: "traces headers win", env: map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"},
			headers: map[string]string{"b": "2"}},
		{name: "header value with =", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "auth=k=v"},
			headers: map[string]string{"auth": "k=v"}},
		{name: "timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"}, timeout: 1500 * time.Millisecond},
		{name: "traces timeout wins", env: map[string]string{
			"OTEL_EXPORTER_OTLP_TIMEOUT": "1500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "20"}, timeout: 20 * time.Millisecond},
		{name: "timeout 0", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "0"}, timeout: 0},
		{name: "timeout option", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"},
			opts: []Option{WithTimeout(time.Second)}, timeout: time.Second},
		{name: "gzip", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, compression: GzipCompression},
		{name: "traces compression wins", env: map[string]string{
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none"}, compression: NoCompression},
		{name: "compression option", opts: []Option{WithCompression(GzipCompression)}, compression: GzipCompression},

		{name: "bad scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://c:1"}, invalid: true},
		{name: "no host", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http:///v1/traces"}, invalid: true},
		{name: "unparsable URL", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:1/%zz"}, invalid: true},
		{name: "header without =", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,b"}, invalid: true},
		{name: "bad header name", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a b=1"}, invalid: true},
		{name: "bad header escape", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=%zz"}, invalid: true},
		{name: "header value with newline", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=x%0Ay"}, invalid: true},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "10s"}, invalid: true},
		{name: "negative timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "-1"}, invalid: true},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, invalid: true},
		{name: "missing certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"}, invalid: true},
		{name: "client certificate without key", env: map[string]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem"}, invalid: true},
		{name: "bad option URL", opts: []Option{WithEndpointURL("localhost:4318")}, invalid: true},
		{name: "bad option header", opts: []Option{WithHeaders(map[string]string{"": "x"})}, invalid: true},
		{name: "negative option timeout", opts: []Option{WithTimeout(-time.Second)}, invalid: true},
		{name: "bad option compression", opts: []Option{WithCompression(7)}, invalid: true},
		{name: "nil client", opts: []Option{WithHTTPClient(nil)}, invalid: true},
		{name: "bad retry", opts: []Option{WithRetry(RetryConfig{Enabled: true})}, invalid: true},
		{name: "bad sizes", opts: []Option{WithMaxRequestSize(0)}, invalid: true},
		{name: "bad response size", opts: []Option{WithMaxResponseSize(-1)}, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := newConfig(tc.opts)
			if tc.invalid {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err %v, want ErrInvalidConfig", err)
				}
				if _, err := New(context.Background(), tc.opts...); !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("New: err %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.endpoint
			if want == "" {
				want = DefaultEndpoint
			}
			if got := c.endpoint.String(); got != want {
				t.Errorf("endpoint %q, want %q", got, want)
			}
			if !maps.Equal(c.headers, tc.headers) {
				t.Errorf("headers %v, want %v", c.headers, tc.headers)
			}
			wantTimeout := tc.timeout
			if wantTimeout == 0 && tc.env["OTEL_EXPORTER_OTLP_TIMEOUT"] != "0" {
				wantTimeout = DefaultTimeout
			}
			if c.timeout != wantTimeout {
				t.Errorf("timeout %v, want %v", c.timeout, wantTimeout)
			}
			if c.compression != tc.compression {
				t.Errorf("compression %v, want %v", c.compression, tc.compression)
			}
		})
	}
}

// writePEM writes PEM blocks to a file in dir and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSigned returns a self-signed client certificate and key, DER-encoded.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zraft-test-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	key, err = x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTLSFromEnv: the CA bundle and the client certificate of the environment are
// used for an https endpoint (the traces variant winning), and verification fails
// without the CA.
func TestTLSFromEnv(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	peer := make(chan string, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		name := ""
		if len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		peer <- name
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := writePEM(t, dir, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	certDER, keyDER := selfSigned(t)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", certDER)
	keyFile := writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)

	export := func() error {
		e, err := New(context.Background(), WithRetry(RetryConfig{}))
		if err != nil {
			return err
		}
		defer func() { _ = e.Shutdown(context.Background()) }()
		return e.Export(context.Background(), testRes, testSpans(1))
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv.URL+"/v1/traces")
	if err := export(); err == nil {
		t.Fatal("export without the CA succeeded")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent") // the traces variant wins
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca)
	if err := export(); err != nil {
		t.Fatalf("export with the CA: %v", err)
	}
	if got := <-peer; got != "" {
		t.Errorf("client certificate %q sent without one configured", got)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", certFile)
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", keyFile)
	if err := export(); err != nil {
		t.Fatalf("export with a client certificate: %v", err)
	}
	if got := <-peer; got != "zraft-test-client" {
		t.Errorf("client certificate %q", got)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", ca) // not a key
	if err := export(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad client key: %v", err)
	}
}

// TestTLSWithHTTPEndpoint: TLS settings with an http:// endpoint are an error, as in
// the SDK.
func TestTLSWithHTTPEndpoint(t *testing.T) {
	clearEnv(t)
	_, err := New(context.Background(), WithEndpointURL("http://c:1/v1/traces"), WithTLSClientConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("err %v", err)
	}
}

func TestWithHTTPClient(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	clearEnv(t)
	c := newCollector(t, nil)
	used := false
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	e := newTestExporter(t, c, WithHTTPClient(client))
	if err := e.Export(context.Background(), testRes, testSpans(1)); err != nil {
		t.Fatal(err)
	}
	if !used {
		t.Error("the given client was not used")
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
