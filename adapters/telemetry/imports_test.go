package telemetry_test

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// allowedImports are the only non-standard-library imports of package telemetry's code:
// the OpenTelemetry API and the protocol module. The SDK, the exporters, gRPC and
// Prometheus belong in package export, so that the client library compiles none of them.
var allowedImports = map[string]bool{
	"go.opentelemetry.io/otel/attribute":   true,
	"go.opentelemetry.io/otel/metric":      true,
	"go.opentelemetry.io/otel/metric/noop": true,
	"go.opentelemetry.io/otel/propagation": true,
	"go.opentelemetry.io/otel/trace":       true,
	"github.com/zraft/zraft/protocol":      true,
}

func TestImportsAreAPIOnly(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			stdlib := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".")
			if !stdlib && !allowedImports[p] {
				t.Errorf("%s imports %q: only the OpenTelemetry API and protocol are allowed here", name, p)
			}
		}
	}
}
