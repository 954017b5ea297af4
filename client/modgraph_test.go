package client

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The client must be importable alone: its module graph holds neither hashicorp/raft
// nor Pebble (docs/architecture.md).
func TestModuleGraphHasNoServerDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	cmd := exec.Command(gobin, "list", "-m", "all")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	mods := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(mods) < 2 {
		t.Fatalf("implausible module list:\n%s", out)
	}
	for _, m := range mods {
		for _, banned := range []string{"github.com/hashicorp/raft", "github.com/cockroachdb/pebble"} {
			if strings.HasPrefix(m, banned) {
				t.Errorf("client's module graph contains %s", m)
			}
		}
	}
}
