package raftnode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHclogAdapterFiltersAndForwards(t *testing.T) {
	var buf bytes.Buffer
	l := newHclogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), slog.LevelWarn)
	l.Info("quiet election chatter")
	l.Named("net").With("peer", "m2").Warn("failed to contact", "time", 3)
	l.Error("boom")
	out := buf.String()
	if strings.Contains(out, "chatter") {
		t.Errorf("info below the threshold was forwarded:\n%s", out)
	}
	for _, want := range []string{"level=WARN", "failed to contact", "peer=m2", "time=3", "logger=net", "level=ERROR", "boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if l.IsInfo() || !l.IsWarn() || l.GetLevel() != hclog.Warn {
		t.Errorf("levels: info %v warn %v level %v", l.IsInfo(), l.IsWarn(), l.GetLevel())
	}
}
