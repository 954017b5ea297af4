package telemetry_test

import (
	"os"
	"strings"
	"testing"

	"github.com/zraft/zraft/adapters/telemetry"
)

const opsDoc = "../../docs/operations-telemetry.md"

// docRow is the row of the operations guide's metric table for i.
func docRow(i telemetry.Instrument) string {
	attrs := "—"
	if len(i.Attributes) > 0 {
		attrs = "`" + strings.Join(i.Attributes, "`, `") + "`"
	}
	return "| `" + i.Name + "` | `" + i.PrometheusName() + "` | " + string(i.Kind) + " | `" + i.Unit + "` | " +
		attrs + " | " + i.Description + " |"
}

// The operations guide documents every instrument exactly as the code defines it, and
// no instrument the code lacks.
func TestOperationsDocListsEveryInstrument(t *testing.T) {
	b, err := os.ReadFile(opsDoc)
	if err != nil {
		t.Fatalf("the operations guide's telemetry section: %v", err)
	}
	doc := string(b)
	rows := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `zraft.") && strings.Count(line, " | ") >= 5 { // not the attribute table
			rows[line] = true
		}
	}
	all := append(telemetry.ServerInstruments(), telemetry.ClientInstruments()...)
	for _, i := range all {
		if !rows[docRow(i)] {
			t.Errorf("%s: the guide lacks the row\n%s", opsDoc, docRow(i))
		}
	}
	if len(rows) != len(all) {
		t.Errorf("%s has %d metric rows, the code %d instruments", opsDoc, len(rows), len(all))
	}
	for _, v := range telemetry.MalformedKinds() {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("%s does not document error.type %q", opsDoc, v)
		}
	}
	for _, o := range []telemetry.Outcome{telemetry.OutcomeApplied, telemetry.OutcomeCached, telemetry.OutcomeOK, telemetry.OutcomeError} {
		if !strings.Contains(doc, "`"+string(o)+"`") {
			t.Errorf("%s does not document outcome %q", opsDoc, o)
		}
	}
}
