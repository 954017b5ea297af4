package export_test

import (
	"os"
	"strings"
	"testing"
)

// clearOTELEnv unsets every OTEL_* variable for the test (restored afterwards), so that
// the machine's environment cannot turn anything on.
func clearOTELEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// setEnv sets the variables for the test, after clearing every other OTEL_* one.
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	clearOTELEnv(t)
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}
