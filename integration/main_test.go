package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tc "github.com/testcontainers/testcontainers-go"
)

// suite is what TestMain prepared for the container scenarios.
var suite struct {
	docker *tc.DockerClient
	image  string
	// skip is why the scenarios do not run ("" when they do).
	skip string
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	DisableReaper()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !Enabled() {
		suite.skip = "container scenarios skipped: set ZRAFT_INTEGRATION=1 (go tool task integration) to run them against Docker"
		fmt.Println("integration: " + suite.skip)
		return m.Run()
	}
	// A cold build of the static zraftd takes minutes on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dc, err := Docker(ctx)
	if err != nil {
		skip, fail := withoutDocker(err, UnderCI())
		if fail != nil {
			fmt.Fprintln(os.Stderr, fail)
			return 1
		}
		suite.skip = skip
		fmt.Println("integration: " + suite.skip)
		return m.Run()
	}
	defer dc.Close()
	dir, err := os.MkdirTemp("", "zraft-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverDir, _ := filepath.Abs(filepath.Join("..", "server"))
	start := time.Now()
	bin, err := BuildZraftd(ctx, serverDir, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	image, err := BuildImage(ctx, dc, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("integration: built %s in %v\n", image, time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := RemoveImage(context.Background(), dc, image); err != nil {
			fmt.Fprintf(os.Stderr, "integration: remove image %s: %v\n", image, err)
		}
	}()
	suite.docker, suite.image = dc, image
	return m.Run()
}

// needDocker skips the test unless the container scenarios run.
func needDocker(t *testing.T) {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
}

// withoutDocker decides what a missing Docker engine means: under CI a failure, else a
// skip of every scenario with one reason.
func withoutDocker(err error, ci bool) (skip string, fail error) {
	if ci {
		return "", fmt.Errorf("integration: CI=true and %w", err)
	}
	return fmt.Sprintf("container scenarios skipped: %v", err), nil
}

func TestWithoutDocker(t *testing.T) {
	if _, fail := withoutDocker(ErrNoDocker, true); !errors.Is(fail, ErrNoDocker) {
		t.Fatalf("under CI: %v, want a failure wrapping ErrNoDocker", fail)
	}
	skip, fail := withoutDocker(ErrNoDocker, false)
	if fail != nil || !strings.Contains(skip, ErrNoDocker.Error()) {
		t.Fatalf("outside CI: skip %q, fail %v", skip, fail)
	}
}
