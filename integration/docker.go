package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
)

// Sentinel errors of the harness.
var (
	// ErrNoDocker: no Docker engine answered.
	ErrNoDocker = errors.New("integration: docker engine not reachable")
	// ErrNotReady: a member did not become ready in time.
	ErrNotReady = errors.New("integration: member not ready")
	// ErrNoLeader: no member reported itself leader in time.
	ErrNoLeader = errors.New("integration: no leader")
)

// Enabled reports whether the container scenarios should run (ZRAFT_INTEGRATION=1).
func Enabled() bool { return os.Getenv("ZRAFT_INTEGRATION") == "1" }

// UnderCI reports whether CI=true: a missing Docker engine is then a failure.
func UnderCI() bool { return os.Getenv("CI") == "true" }

// DisableReaper turns testcontainers' reaper (Ryuk) off unless the environment already
// decided: no image can be pulled here, and the harness removes what it creates itself.
func DisableReaper() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// Docker returns a client of the local Docker engine after checking that it answers.
func Docker(ctx context.Context) (*tc.DockerClient, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := tc.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	if _, err := dc.Ping(ctx, client.PingOptions{}); err != nil {
		_ = dc.Close()
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	return dc, nil
}
